//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package embedded

// lockDir does nothing where flock is unavailable (Windows): there, keeping
// one process per folder is up to the user.
func lockDir(string) (func() error, error) {
	return func() error { return nil }, nil
}
