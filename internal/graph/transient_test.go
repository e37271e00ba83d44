package graph

import (
	"errors"
	"fmt"
	"testing"

	abstractions "github.com/microsoft/kiota-abstractions-go"
)

func TestClassifyKeepsStatus(t *testing.T) {
	type transient interface{ Transient() bool }
	for status, want := range map[int]bool{503: true, 500: true, 429: true, 404: false, 403: false} {
		api := abstractions.NewApiError()
		api.SetStatusCode(status)
		err := fmt.Errorf("list users: %w", classify(api))
		var tr transient
		if !errors.As(err, &tr) || tr.Transient() != want {
			t.Errorf("HTTP %d: transient mark %v, want %t", status, tr, want)
		}
	}
	plain := errors.New("dial tcp: refused")
	if classify(plain) != plain {
		t.Error("a non-HTTP error was rewrapped")
	}
}
