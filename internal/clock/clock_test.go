package clock

import (
	"context"
	"testing"
	"time"
)

func TestFakeFiresDueWaitersInOrder(t *testing.T) {
	start := time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)
	f := NewFake(start)
	late, early := f.After(2*time.Minute), f.After(time.Minute)
	if f.Waiters() != 2 {
		t.Fatalf("Waiters() = %d, want 2", f.Waiters())
	}
	f.Advance(90 * time.Second)
	select {
	case got := <-early:
		if !got.Equal(start.Add(90 * time.Second)) {
			t.Errorf("early fired at %v", got)
		}
	default:
		t.Fatal("the 1-minute waiter did not fire after 90 s")
	}
	select {
	case <-late:
		t.Fatal("the 2-minute waiter fired early")
	default:
	}
	f.Set(start) // never backwards
	if !f.Now().Equal(start.Add(90 * time.Second)) {
		t.Errorf("Set moved the clock backwards to %v", f.Now())
	}
	f.Advance(time.Minute)
	<-late
	if f.Waiters() != 0 {
		t.Errorf("Waiters() = %d after all fired", f.Waiters())
	}
}

func TestSleepStopsOnCancel(t *testing.T) {
	f := NewFake(time.Now())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if Sleep(ctx, f, time.Hour) {
		t.Error("Sleep on a cancelled context reported a full sleep")
	}
	if !Sleep(context.Background(), f, 0) {
		t.Error("Sleep(0) should return at once, true")
	}
}
