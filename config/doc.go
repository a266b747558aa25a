// Package config will hold the SSP's configuration (SPEC §9): SPKY_* environment variables and
// sp00ky.yml read with viper, validated at start so an invalid value names the variable.
package config
