package queue

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"
)

type statusError struct{ status int }

func (s statusError) Error() string   { return fmt.Sprintf("status %d", s.status) }
func (s statusError) Transient() bool { return s.status >= 500 }

func TestIsTransient(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"unclassified", errors.New("boom"), false},
		{"marked", fmt.Errorf("save run: %w", Transient(errors.New("503"))), true},
		{"terminal wins", Terminal(Transient(errors.New("x"))), false},
		{"adapter 503", fmt.Errorf("list users: %w", statusError{503}), true},
		{"adapter 400", fmt.Errorf("list users: %w", statusError{400}), false},
		{"deadline", fmt.Errorf("read: %w", context.DeadlineExceeded), true},
		{"refused", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, true},
		{"reset", fmt.Errorf("post: %w", syscall.ECONNRESET), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsTransient(tt.err); got != tt.want {
				t.Errorf("IsTransient(%v) = %t, want %t", tt.err, got, tt.want)
			}
		})
	}
}
