package config

import (
	"fmt"
	"os"
	"strings"

	"github.com/sirupsen/logrus"
)

// LogFormat selects the log output encoding.
type LogFormat string

// Log formats accepted by SPKY_LOG_FORMAT.
const (
	LogFormatText LogFormat = "text"
	LogFormatJSON LogFormat = "json"
)

func parseLevel(raw string) (logrus.Level, error) {
	l, err := logrus.ParseLevel(strings.TrimSpace(raw))
	if err != nil {
		return 0, fmt.Errorf("unknown log level; allowed: trace, debug, info, warn, error, fatal, panic")
	}
	return l, nil
}

// NewLogger returns a logger writing to stderr at cfg.LogLevel: human-readable text (coloured on a
// terminal) by default, one JSON object per line with SPKY_LOG_FORMAT=json.
func NewLogger(cfg Config) *logrus.Logger {
	log := logrus.New()
	log.SetOutput(os.Stderr)
	log.SetLevel(cfg.LogLevel)
	if cfg.LogFormat == LogFormatJSON {
		log.SetFormatter(&logrus.JSONFormatter{})
	} else {
		log.SetFormatter(&logrus.TextFormatter{FullTimestamp: true})
	}
	return log
}
