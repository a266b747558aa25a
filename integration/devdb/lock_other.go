//go:build !unix

package devdb

import "context"

// lockFile is a no-op where flock is unavailable; concurrent first-time
// installs from several test binaries may then race.
func lockFile(ctx context.Context, path string) (unlock func(), err error) {
	return func() {}, nil
}
