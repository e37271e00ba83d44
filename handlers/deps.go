package handlers

import (
	"errors"
	"fmt"
)

// ErrDependencyUnavailable marks a failure to reach a dependency the
// handler opens lazily (Key Vault, Table Storage, Microsoft Graph). The
// handler listens before it connects, so a dependency that is down fails
// the invocations that need it, transiently, instead of leaving the
// process without it until a restart.
var ErrDependencyUnavailable = errors.New("dependency unavailable")

// DependencyError is a failure to open or reach a dependency. It matches
// ErrDependencyUnavailable with errors.Is, and reports Transient() true so
// that a retry classifier in another package can recognise it without
// importing this one.
type DependencyError struct {
	Dependency string // "key vault", "graph", …
	Err        error
}

func (e *DependencyError) Error() string {
	return fmt.Sprintf("%s unavailable: %v", e.Dependency, e.Err)
}

func (e *DependencyError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrDependencyUnavailable) true.
func (e *DependencyError) Is(target error) bool { return target == ErrDependencyUnavailable }

// Transient reports that retrying later can succeed.
func (e *DependencyError) Transient() bool { return true }
