package queue

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"
)

type transientError struct{ err error }

func (t transientError) Error() string   { return t.err.Error() }
func (t transientError) Unwrap() error   { return t.err }
func (t transientError) Transient() bool { return true }

// Transient marks err as one that passes by itself (a storage or network
// blip, a Graph 5xx, a timeout): the runner completes the delivery and
// schedules a copy with backoff, so the blip costs no Service Bus delivery.
func Transient(err error) error {
	if err == nil {
		return nil
	}
	return transientError{err}
}

// IsTransient reports whether err is worth retrying on our own schedule:
// marked Transient (by this package, or by any error in the chain with a
// Transient() bool method — how store and Graph adapters mark theirs
// without importing this package), a timeout, or a broken connection. A
// Terminal mark wins over everything; an error nobody classified is not
// transient, and goes back to Service Bus.
func IsTransient(err error) bool {
	if err == nil || IsTerminal(err) {
		return false
	}
	var marked interface{ Transient() bool }
	if errors.As(err, &marked) {
		return marked.Transient()
	}
	var netErr net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return true
	case errors.As(err, &netErr):
		return true
	}
	return false
}
