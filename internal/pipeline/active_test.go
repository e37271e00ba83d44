package pipeline

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/rostersync/rostersync/internal/runs"
)

func TestOneActiveRunPerProfile(t *testing.T) {
	h := newHarness(t, nil, "noop")
	ctx := context.Background()
	req := RunRequest{CustomerID: "oak", ProfileID: "nightly", Mode: runs.ModeApply}
	// Concurrent "sync now": exactly one starts.
	const callers = 5
	started := make([]runs.Run, callers)
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() { started[i], errs[i] = h.p.StartRun(ctx, req) })
	}
	wg.Wait()
	var first runs.Run
	for i, err := range errs {
		switch {
		case err == nil && first.ID == "":
			first = started[i]
		case err == nil:
			t.Fatalf("two runs started: %s and %s", first.ID, started[i].ID)
		case !errors.Is(err, ErrRunActive):
			t.Fatalf("caller %d: %v, want ErrRunActive", i, err)
		}
	}
	if first.ID == "" {
		t.Fatal("no run started")
	}
	_, err := h.p.StartRun(ctx, req)
	if !errors.Is(err, ErrRunActive) || !strings.Contains(err.Error(), first.ID) {
		t.Fatalf("second sync now = %v, want ErrRunActive naming %s", err, first.ID)
	}
	for _, m := range h.out.take() {
		h.p.Handle(ctx, delivery(m, 1))
	}
	if run, _ := h.store.GetRun(ctx, "oak", first.ID); !run.Status.Done() {
		t.Fatalf("first run is %s after its jobs ran", run.Status)
	}
	if _, err := h.p.StartRun(ctx, req); err != nil {
		t.Errorf("sync now after the run ended = %v", err)
	}
}
