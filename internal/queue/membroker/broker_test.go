package membroker_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rostersync/rostersync/internal/clock"
	"github.com/rostersync/rostersync/internal/queue"
	"github.com/rostersync/rostersync/internal/queue/membroker"
)

// Every test runs in a synctest bubble: synctest.Wait tells a test that a
// goroutine is parked inside the broker, and a call that blocks when it
// should not fails the test as a deadlock instead of hanging it. Broker
// time is a clock.Fake the test advances; nothing sleeps.

var t0 = time.Date(2026, 9, 1, 2, 0, 0, 0, time.UTC)

const q = "jobs"

func newBroker(t *testing.T, opts membroker.QueueOptions) (*membroker.Broker, *clock.Fake) {
	t.Helper()
	clk := clock.NewFake(t0)
	b := membroker.New(clk)
	if err := b.CreateQueue(q, opts); err != nil {
		t.Fatalf("CreateQueue(%q) = %v", q, err)
	}
	return b, clk
}

func msg(id, session string) queue.Message {
	return queue.Message{MessageID: id, SessionID: session, Body: []byte("body " + id)}
}

func send(t *testing.T, b *membroker.Broker, msgs ...queue.Message) {
	t.Helper()
	if err := b.Sender(q).Send(t.Context(), msgs...); err != nil {
		t.Fatalf("Send = %v", err)
	}
}

func stats(t *testing.T, b *membroker.Broker) membroker.Stats {
	t.Helper()
	st, err := b.Stats(q)
	if err != nil {
		t.Fatalf("Stats(%q) = %v", q, err)
	}
	return st
}

func wantStats(t *testing.T, b *membroker.Broker, want membroker.Stats) {
	t.Helper()
	if got := stats(t, b); got != want {
		t.Errorf("Stats(%q) = %+v, want %+v", q, got, want)
	}
}

// receive calls Receive and expects exactly the given message ids.
func receive(t *testing.T, b *membroker.Broker, max int, wantIDs ...string) []*membroker.Locked {
	t.Helper()
	ls, err := b.Receive(t.Context(), q, max)
	if err != nil {
		t.Fatalf("Receive(%d) = %v", max, err)
	}
	if got := ids(ls); got != strings.Join(wantIDs, ",") {
		t.Fatalf("Receive(%d) = [%s], want [%s]", max, got, strings.Join(wantIDs, ","))
	}
	return ls
}

func sessionReceive(t *testing.T, sr *membroker.SessionReceiver, max int, wantIDs ...string) []*membroker.Locked {
	t.Helper()
	ls, err := sr.Receive(t.Context(), max)
	if err != nil {
		t.Fatalf("session %s Receive(%d) = %v", sr.SessionID(), max, err)
	}
	if got := ids(ls); got != strings.Join(wantIDs, ",") {
		t.Fatalf("session %s Receive(%d) = [%s], want [%s]", sr.SessionID(), max, got, strings.Join(wantIDs, ","))
	}
	return ls
}

func accept(t *testing.T, b *membroker.Broker, wantSession string) *membroker.SessionReceiver {
	t.Helper()
	sr, err := b.AcceptNextSession(t.Context(), q)
	if err != nil {
		t.Fatalf("AcceptNextSession = %v", err)
	}
	if sr.SessionID() != wantSession {
		t.Fatalf("AcceptNextSession got session %q, want %q", sr.SessionID(), wantSession)
	}
	return sr
}

func complete(t *testing.T, b *membroker.Broker, ls ...*membroker.Locked) {
	t.Helper()
	for _, l := range ls {
		if err := b.Complete(t.Context(), l); err != nil {
			t.Fatalf("Complete(%s) = %v", l.MessageID, err)
		}
	}
}

func ids(ls []*membroker.Locked) string {
	s := make([]string, len(ls))
	for i, l := range ls {
		s[i] = l.MessageID
	}
	return strings.Join(s, ",")
}

type result[T any] struct {
	v   T
	err error
}

// async runs f in a goroutine and returns its result channel.
func async[T any](f func() (T, error)) <-chan result[T] {
	ch := make(chan result[T], 1)
	go func() {
		v, err := f()
		ch <- result[T]{v, err}
	}()
	return ch
}

// blocked waits until every goroutine in the bubble is parked and reports
// whether the call behind ch is still blocked.
func blocked[T any](ch <-chan result[T]) bool {
	synctest.Wait()
	return len(ch) == 0
}

func TestSendRefusesInvalidBatchesWhole(t *testing.T) {
	valid := msg("ok", "s")
	tests := []struct {
		name    string
		opts    membroker.QueueOptions
		queue   string
		bad     queue.Message
		wantErr error
	}{
		{"empty message id", membroker.QueueOptions{}, q, msg("", ""), queue.ErrInvalidMessage},
		{"message id too long", membroker.QueueOptions{}, q, msg(strings.Repeat("x", queue.MaxMessageIDLength+1), ""), queue.ErrInvalidMessage},
		{"session id too long", membroker.QueueOptions{}, q, msg("m", strings.Repeat("s", queue.MaxSessionIDLength+1)), queue.ErrInvalidMessage},
		{"body too large", membroker.QueueOptions{}, q, queue.Message{MessageID: "big", Body: make([]byte, queue.MaxMessageSize)}, queue.ErrMessageTooLarge},
		{"properties too large", membroker.QueueOptions{}, q, queue.Message{MessageID: "big", ApplicationProperties: map[string]string{"k": strings.Repeat("v", queue.MaxMessageSize)}}, queue.ErrMessageTooLarge},
		{"session queue without session id", membroker.QueueOptions{RequiresSession: true}, q, msg("m", ""), queue.ErrInvalidMessage},
		{"unknown queue", membroker.QueueOptions{}, "nope", msg("m", ""), membroker.ErrQueueNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b, _ := newBroker(t, tt.opts)
				err := b.Sender(tt.queue).Send(t.Context(), valid, tt.bad, valid)
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Send = %v, want errors.Is %v", err, tt.wantErr)
				}
				wantStats(t, b, membroker.Stats{})
			})
		})
	}
}

func TestSendCanceledContextSendsNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newBroker(t, membroker.QueueOptions{})
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if err := b.Sender(q).Send(ctx, msg("m", "")); !errors.Is(err, context.Canceled) {
			t.Fatalf("Send = %v, want context.Canceled", err)
		}
		wantStats(t, b, membroker.Stats{})
	})
}

func TestReceiveInSequenceOrderUpToMax(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newBroker(t, membroker.QueueOptions{})
		send(t, b, msg("a", ""), msg("b", ""), msg("c", ""))
		ls := receive(t, b, 2, "a", "b")
		for i, l := range ls {
			if l.DeliveryCount != 1 || l.SequenceNumber != int64(i+1) || !l.EnqueuedTime.Equal(t0) || !l.LockedUntil.Equal(t0.Add(membroker.DefaultLockDuration)) {
				t.Errorf("delivery %d = count %d, seq %d, enqueued %s, locked until %s; want 1, %d, %s, %s",
					i, l.DeliveryCount, l.SequenceNumber, l.EnqueuedTime, l.LockedUntil, i+1, t0, t0.Add(membroker.DefaultLockDuration))
			}
		}
		wantStats(t, b, membroker.Stats{Active: 1, Locked: 2})
		receive(t, b, 10, "c")
	})
}

func TestReceiveBlocksUntilSend(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newBroker(t, membroker.QueueOptions{})
		got := async(func() ([]*membroker.Locked, error) { return b.Receive(t.Context(), q, 5) })
		if !blocked(got) {
			t.Fatal("Receive on an empty queue returned")
		}
		send(t, b, msg("a", ""))
		r := <-got
		if r.err != nil || ids(r.v) != "a" {
			t.Fatalf("Receive = [%s], %v; want [a], nil", ids(r.v), r.err)
		}
	})
}

func TestBlockingCallsEndWithContext(t *testing.T) {
	tests := []struct {
		name    string
		session bool
		call    func(ctx context.Context, b *membroker.Broker) error
	}{
		{"Receive", false, func(ctx context.Context, b *membroker.Broker) error {
			_, err := b.Receive(ctx, q, 1)
			return err
		}},
		{"AcceptNextSession", true, func(ctx context.Context, b *membroker.Broker) error {
			_, err := b.AcceptNextSession(ctx, q)
			return err
		}},
		{"SessionReceiver.Receive with a message in flight", true, func(ctx context.Context, b *membroker.Broker) error {
			if err := b.Sender(q).Send(ctx, msg("a", "s")); err != nil {
				return err
			}
			sr, err := b.AcceptNextSession(ctx, q)
			if err != nil {
				return err
			}
			defer sr.Close()
			if _, err := sr.Receive(ctx, 1); err != nil {
				return err
			}
			_, err = sr.Receive(ctx, 1)
			return err
		}},
		{"WaitIdle", false, func(ctx context.Context, b *membroker.Broker) error {
			if err := b.Sender(q).Send(ctx, msg("a", "")); err != nil {
				return err
			}
			return b.WaitIdle(ctx, q)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b, _ := newBroker(t, membroker.QueueOptions{RequiresSession: tt.session})
				ctx, cancel := context.WithCancel(t.Context())
				got := async(func() (struct{}, error) { return struct{}{}, tt.call(ctx, b) })
				if !blocked(got) {
					t.Fatalf("%s returned before its context ended: %v", tt.name, (<-got).err)
				}
				cancel()
				if err := (<-got).err; !errors.Is(err, context.Canceled) {
					t.Fatalf("%s = %v, want context.Canceled", tt.name, err)
				}
			})
		})
	}
}

func TestSessionMessagesFIFOOneAtATime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newBroker(t, membroker.QueueOptions{RequiresSession: true})
		send(t, b, msg("a1", "a"), msg("b1", "b"), msg("a2", "a"), msg("a3", "a"), msg("b2", "b"))

		// Session a's first message was sent first, so a is accepted first.
		sr := accept(t, b, "a")
		a1 := sessionReceive(t, sr, 1, "a1")

		// a2 is not delivered while a1 is unsettled.
		next := async(func() ([]*membroker.Locked, error) { return sr.Receive(t.Context(), 1) })
		if !blocked(next) {
			t.Fatal("session Receive delivered a2 while a1 was still locked")
		}
		complete(t, b, a1...)
		r := <-next
		if r.err != nil || ids(r.v) != "a2" {
			t.Fatalf("session Receive after completing a1 = [%s], %v; want [a2], nil", ids(r.v), r.err)
		}
		complete(t, b, r.v...)
		complete(t, b, sessionReceive(t, sr, 5, "a3")...)
		// Nothing visible: an empty result tells the caller to move on.
		sessionReceive(t, sr, 1)
		sr.Close()

		sr = accept(t, b, "b")
		complete(t, b, sessionReceive(t, sr, 5, "b1", "b2")...)
		sr.Close()
		wantStats(t, b, membroker.Stats{})
	})
}

func TestSessionVisibleMessagesInOrderAroundScheduledOne(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, clk := newBroker(t, membroker.QueueOptions{RequiresSession: true})
		late := msg("a2", "a")
		late.ScheduledEnqueueTime = t0.Add(time.Minute)
		send(t, b, msg("a1", "a"), late, msg("a3", "a"))
		sr := accept(t, b, "a")
		complete(t, b, sessionReceive(t, sr, 5, "a1", "a3")...)
		clk.Advance(time.Minute)
		complete(t, b, sessionReceive(t, sr, 5, "a2")...)
		sr.Close()
	})
}

func TestSessionHasOneReceiverAtATime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newBroker(t, membroker.QueueOptions{RequiresSession: true})
		send(t, b, msg("a1", "a"), msg("a2", "a"), msg("b1", "b"))
		ra := accept(t, b, "a")
		rb := accept(t, b, "b")

		third := async(func() (*membroker.SessionReceiver, error) { return b.AcceptNextSession(t.Context(), q) })
		if !blocked(third) {
			t.Fatal("AcceptNextSession returned although both sessions are held")
		}
		complete(t, b, sessionReceive(t, ra, 1, "a1")...)
		complete(t, b, sessionReceive(t, rb, 1, "b1")...)
		if !blocked(third) {
			t.Fatal("AcceptNextSession took session a while another receiver held it")
		}
		ra.Close()
		r := <-third
		if r.err != nil || r.v.SessionID() != "a" {
			t.Fatalf("AcceptNextSession after closing a = %v, %v; want session a", r.v, r.err)
		}
		complete(t, b, sessionReceive(t, r.v, 1, "a2")...)
		r.v.Close()
		rb.Close()
		wantStats(t, b, membroker.Stats{})
	})
}

// Two workers drain four sessions the way the Functions host does: accept a
// session, handle its messages one at a time, close it when it runs dry.
func TestSessionsConsumedInParallel(t *testing.T) {
	const sessions, perSession, workers = 4, 25, 2
	synctest.Test(t, func(t *testing.T) {
		b, _ := newBroker(t, membroker.QueueOptions{RequiresSession: true})
		var msgs []queue.Message
		for i := range perSession {
			for s := range sessions {
				msgs = append(msgs, msg(fmt.Sprintf("s%d-%02d", s, i), fmt.Sprintf("s%d", s)))
			}
		}
		send(t, b, msgs...)

		var (
			mu       sync.Mutex
			holders  = map[string]int{}
			overlaps []string
			handled  = map[string][]string{}
		)
		ctx, cancel := context.WithCancel(t.Context())
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for {
					sr, err := b.AcceptNextSession(ctx, q)
					if err != nil {
						return // ctx ended
					}
					id := sr.SessionID()
					mu.Lock()
					if holders[id]++; holders[id] > 1 {
						overlaps = append(overlaps, id)
					}
					mu.Unlock()
					for {
						ls, err := sr.Receive(ctx, 1)
						if err != nil || len(ls) == 0 {
							break
						}
						mu.Lock()
						handled[id] = append(handled[id], ls[0].MessageID)
						mu.Unlock()
						if err := b.Complete(ctx, ls[0]); err != nil {
							t.Errorf("Complete(%s) = %v", ls[0].MessageID, err)
						}
					}
					mu.Lock()
					holders[id]--
					mu.Unlock()
					sr.Close()
				}
			})
		}
		if err := b.WaitIdle(ctx, q); err != nil {
			t.Fatalf("WaitIdle = %v", err)
		}
		cancel()
		wg.Wait()

		if len(overlaps) > 0 {
			t.Errorf("sessions held by two receivers at once: %v", overlaps)
		}
		for s := range sessions {
			id := fmt.Sprintf("s%d", s)
			var want []string
			for i := range perSession {
				want = append(want, fmt.Sprintf("%s-%02d", id, i))
			}
			if got := strings.Join(handled[id], ","); got != strings.Join(want, ",") {
				t.Errorf("session %s handled in order %s, want %s", id, got, strings.Join(want, ","))
			}
		}
	})
}

func TestScheduledMessageInvisibleUntilItsTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, clk := newBroker(t, membroker.QueueOptions{})
		at := t0.Add(5 * time.Minute)
		m := msg("later", "")
		m.ScheduledEnqueueTime = at
		send(t, b, m)
		wantStats(t, b, membroker.Stats{Scheduled: 1})

		got := async(func() ([]*membroker.Locked, error) { return b.Receive(t.Context(), q, 1) })
		if !blocked(got) {
			t.Fatal("Receive returned a message scheduled for later")
		}
		if n := clk.Waiters(); n != 1 {
			t.Fatalf("clock waiters = %d, want 1 (the receiver, waiting for %s)", n, at)
		}
		clk.Advance(5*time.Minute - time.Second)
		if !blocked(got) {
			t.Fatal("Receive returned a message a second before its scheduled time")
		}
		clk.Advance(time.Second)
		r := <-got
		if r.err != nil || ids(r.v) != "later" {
			t.Fatalf("Receive = [%s], %v; want [later], nil", ids(r.v), r.err)
		}
		if !r.v[0].EnqueuedTime.Equal(at) {
			t.Errorf("EnqueuedTime = %s, want the scheduled time %s", r.v[0].EnqueuedTime, at)
		}
	})
}

func TestScheduledTimeInThePastIsNow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newBroker(t, membroker.QueueOptions{})
		m := msg("m", "")
		m.ScheduledEnqueueTime = t0.Add(-time.Hour)
		send(t, b, m)
		if l := receive(t, b, 1, "m"); !l[0].EnqueuedTime.Equal(t0) {
			t.Errorf("EnqueuedTime = %s, want %s", l[0].EnqueuedTime, t0)
		}
	})
}

func TestDuplicateDetection(t *testing.T) {
	tests := []struct {
		name   string
		window time.Duration
		// sends are offsets from t0 at which the same MessageID is sent.
		sends []time.Duration
		want  int
	}{
		{"off", 0, []time.Duration{0, 0}, 2},
		{"same instant", 10 * time.Minute, []time.Duration{0, 0}, 1},
		{"just inside window", 10 * time.Minute, []time.Duration{0, 10*time.Minute - time.Second}, 1},
		{"at window end", 10 * time.Minute, []time.Duration{0, 10 * time.Minute}, 2},
		{"well outside window", 10 * time.Minute, []time.Duration{0, time.Hour}, 2},
		{"dropped resend does not extend window", 10 * time.Minute, []time.Duration{0, 9 * time.Minute, 10 * time.Minute}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b, clk := newBroker(t, membroker.QueueOptions{DuplicateDetectionWindow: tt.window})
				for _, at := range tt.sends {
					clk.Set(t0.Add(at))
					send(t, b, msg("same", ""))
				}
				if got := stats(t, b).Active; got != tt.want {
					t.Errorf("active messages = %d, want %d", got, tt.want)
				}
			})
		})
	}
}

func TestDuplicateWithinOneSend(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newBroker(t, membroker.QueueOptions{DuplicateDetectionWindow: time.Minute})
		send(t, b, msg("x", ""), msg("x", ""), msg("y", ""))
		receive(t, b, 5, "x", "y")
	})
}

func TestAbandonRedeliversAtOnceWithHigherCount(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newBroker(t, membroker.QueueOptions{})
		send(t, b, msg("m", ""))
		for want := 1; want <= 3; want++ {
			l := receive(t, b, 1, "m")[0]
			if l.DeliveryCount != want || l.SequenceNumber != 1 {
				t.Fatalf("delivery %d: DeliveryCount = %d, SequenceNumber = %d; want %d, 1", want, l.DeliveryCount, l.SequenceNumber, want)
			}
			if err := b.Abandon(t.Context(), l); err != nil {
				t.Fatalf("Abandon = %v", err)
			}
			wantStats(t, b, membroker.Stats{Active: 1})
		}
	})
}

func TestMaxDeliveryCountDeadLetters(t *testing.T) {
	const maxDeliveries = 3
	lock := 30 * time.Second
	tests := []struct {
		name    string
		release func(t *testing.T, b *membroker.Broker, clk *clock.Fake, sr *membroker.SessionReceiver, l *membroker.Locked)
	}{
		{"abandon", func(t *testing.T, b *membroker.Broker, _ *clock.Fake, _ *membroker.SessionReceiver, l *membroker.Locked) {
			if err := b.Abandon(t.Context(), l); err != nil {
				t.Fatalf("Abandon = %v", err)
			}
		}},
		{"lock expiry", func(_ *testing.T, _ *membroker.Broker, clk *clock.Fake, _ *membroker.SessionReceiver, _ *membroker.Locked) {
			clk.Advance(lock)
		}},
		{"session closed", func(_ *testing.T, _ *membroker.Broker, _ *clock.Fake, sr *membroker.SessionReceiver, _ *membroker.Locked) {
			sr.Close()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b, clk := newBroker(t, membroker.QueueOptions{RequiresSession: true, MaxDeliveryCount: maxDeliveries, LockDuration: lock})
				send(t, b, msg("poison", "s"))
				for i := 1; i <= maxDeliveries; i++ {
					sr := accept(t, b, "s")
					l := sessionReceive(t, sr, 1, "poison")[0]
					if l.DeliveryCount != i {
						t.Fatalf("DeliveryCount = %d, want %d", l.DeliveryCount, i)
					}
					tt.release(t, b, clk, sr, l)
					sr.Close()
				}
				wantStats(t, b, membroker.Stats{DeadLettered: 1})
				dl, err := b.DeadLetters(q)
				if err != nil || len(dl) != 1 {
					t.Fatalf("DeadLetters = %v, %v; want one", dl, err)
				}
				d := dl[0]
				if d.MessageID != "poison" || d.Reason != membroker.ReasonMaxDeliveryCountExceeded || d.DeliveryCount != maxDeliveries || d.Description == "" {
					t.Errorf("dead letter = %s, reason %q, delivered %d times, description %q; want poison, %q, %d, non-empty",
						d.MessageID, d.Reason, d.DeliveryCount, d.Description, membroker.ReasonMaxDeliveryCountExceeded, maxDeliveries)
				}
			})
		})
	}
}

func TestLockExpiryRedeliversAndLateSettleFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, clk := newBroker(t, membroker.QueueOptions{LockDuration: time.Minute})
		send(t, b, msg("m", ""))
		first := receive(t, b, 1, "m")[0]

		again := async(func() ([]*membroker.Locked, error) { return b.Receive(t.Context(), q, 1) })
		if !blocked(again) {
			t.Fatal("Receive returned while the only message was locked")
		}
		if n := clk.Waiters(); n != 1 {
			t.Fatalf("clock waiters = %d, want 1 (the receiver, waiting for the lock to expire)", n)
		}
		clk.Advance(time.Minute - time.Second)
		if !blocked(again) {
			t.Fatal("message redelivered a second before its lock expired")
		}
		clk.Advance(time.Second)
		r := <-again
		if r.err != nil || ids(r.v) != "m" || r.v[0].DeliveryCount != 2 {
			t.Fatalf("Receive after lock expiry = [%s], %v; want [m] with DeliveryCount 2", ids(r.v), r.err)
		}
		second := r.v[0]

		for name, settle := range map[string]func() error{
			"Complete":   func() error { return b.Complete(t.Context(), first) },
			"Abandon":    func() error { return b.Abandon(t.Context(), first) },
			"DeadLetter": func() error { return b.DeadLetter(t.Context(), first, "r", "d") },
		} {
			if err := settle(); !errors.Is(err, membroker.ErrLockLost) {
				t.Errorf("%s with an expired lock = %v, want ErrLockLost", name, err)
			}
		}
		complete(t, b, second)
		if err := b.Complete(t.Context(), second); !errors.Is(err, membroker.ErrLockLost) {
			t.Errorf("second Complete = %v, want ErrLockLost", err)
		}
		wantStats(t, b, membroker.Stats{})
	})
}

func TestSettleAfterLockExpiryWithoutOtherActivityFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, clk := newBroker(t, membroker.QueueOptions{LockDuration: time.Minute})
		send(t, b, msg("m", ""))
		l := receive(t, b, 1, "m")[0]
		clk.Advance(time.Minute)
		if err := b.Complete(t.Context(), l); !errors.Is(err, membroker.ErrLockLost) {
			t.Fatalf("Complete after LockedUntil = %v, want ErrLockLost", err)
		}
		wantStats(t, b, membroker.Stats{Active: 1})
	})
}

func TestSessionLockExpiryRedeliversSameMessageFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, clk := newBroker(t, membroker.QueueOptions{RequiresSession: true, LockDuration: time.Minute})
		send(t, b, msg("a1", "a"), msg("a2", "a"))
		sr := accept(t, b, "a")
		sessionReceive(t, sr, 1, "a1")
		next := async(func() ([]*membroker.Locked, error) { return sr.Receive(t.Context(), 1) })
		if !blocked(next) {
			t.Fatal("session Receive returned while a1 was in flight")
		}
		clk.Advance(time.Minute)
		r := <-next
		if r.err != nil || ids(r.v) != "a1" || r.v[0].DeliveryCount != 2 {
			t.Fatalf("session Receive after a1's lock expired = [%s], %v; want [a1] with DeliveryCount 2", ids(r.v), r.err)
		}
		sr.Close()
	})
}

func TestCloseReleasesSessionMessages(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newBroker(t, membroker.QueueOptions{RequiresSession: true})
		send(t, b, msg("a1", "a"))
		sr := accept(t, b, "a")
		l := sessionReceive(t, sr, 1, "a1")[0]
		sr.Close()
		sr.Close() // idempotent
		if err := b.Complete(t.Context(), l); !errors.Is(err, membroker.ErrLockLost) {
			t.Errorf("Complete after Close = %v, want ErrLockLost", err)
		}
		if _, err := sr.Receive(t.Context(), 1); !errors.Is(err, membroker.ErrLockLost) {
			t.Errorf("Receive after Close = %v, want ErrLockLost", err)
		}
		sr = accept(t, b, "a")
		if l := sessionReceive(t, sr, 1, "a1")[0]; l.DeliveryCount != 2 {
			t.Errorf("DeliveryCount after Close = %d, want 2", l.DeliveryCount)
		}
		sr.Close()
	})
}

func TestTTL(t *testing.T) {
	const ttl = time.Minute
	tests := []struct {
		name        string
		scheduledIn time.Duration
		receive     bool
		advance     time.Duration
		want        membroker.Stats
	}{
		{"alive until its ttl", 0, false, ttl - time.Second, membroker.Stats{Active: 1}},
		{"expires unreceived", 0, false, ttl, membroker.Stats{DeadLettered: 1}},
		{"does not expire while locked", 0, true, 2 * ttl, membroker.Stats{Locked: 1}},
		{"scheduled: ttl runs from the scheduled time", 10 * time.Minute, false, 10*time.Minute + ttl - time.Second, membroker.Stats{Active: 1}},
		{"scheduled: expires ttl after the scheduled time", 10 * time.Minute, false, 10*time.Minute + ttl, membroker.Stats{DeadLettered: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b, clk := newBroker(t, membroker.QueueOptions{DefaultTTL: ttl, LockDuration: time.Hour})
				m := msg("m", "")
				if tt.scheduledIn > 0 {
					m.ScheduledEnqueueTime = t0.Add(tt.scheduledIn)
				}
				send(t, b, m)
				if tt.receive {
					receive(t, b, 1, "m")
				}
				clk.Advance(tt.advance)
				wantStats(t, b, tt.want)
				if tt.want.DeadLettered == 0 {
					return
				}
				dl, err := b.DeadLetters(q)
				if err != nil || len(dl) != 1 || dl[0].Reason != membroker.ReasonTTLExpired || dl[0].DeliveryCount != 0 {
					t.Errorf("DeadLetters = %+v, %v; want m with reason %q, never delivered", dl, err, membroker.ReasonTTLExpired)
				}
			})
		})
	}
}

func TestLockedMessageExpiresOnceReleased(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, clk := newBroker(t, membroker.QueueOptions{DefaultTTL: time.Minute, LockDuration: time.Hour})
		send(t, b, msg("m", ""))
		l := receive(t, b, 1, "m")[0]
		clk.Advance(2 * time.Minute)
		if err := b.Abandon(t.Context(), l); err != nil {
			t.Fatalf("Abandon = %v", err)
		}
		wantStats(t, b, membroker.Stats{DeadLettered: 1})
	})
}

func TestDeadLetterByHandler(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, clk := newBroker(t, membroker.QueueOptions{})
		send(t, b, msg("bad", ""))
		l := receive(t, b, 1, "bad")[0]
		clk.Advance(time.Second)
		if err := b.DeadLetter(t.Context(), l, "BadJob", "unknown entity"); err != nil {
			t.Fatalf("DeadLetter = %v", err)
		}
		dl, err := b.DeadLetters(q)
		if err != nil || len(dl) != 1 {
			t.Fatalf("DeadLetters = %v, %v; want one", dl, err)
		}
		d := dl[0]
		if d.MessageID != "bad" || d.Reason != "BadJob" || d.Description != "unknown entity" || d.DeliveryCount != 1 || !d.DeadLetteredAt.Equal(t0.Add(time.Second)) {
			t.Errorf("dead letter = %+v", d)
		}
		wantStats(t, b, membroker.Stats{DeadLettered: 1})
	})
}

func TestWaitIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, clk := newBroker(t, membroker.QueueOptions{})
		later := msg("later", "")
		later.ScheduledEnqueueTime = t0.Add(time.Minute)
		send(t, b, msg("now", ""), later)
		idle := async(func() (struct{}, error) { return struct{}{}, b.WaitIdle(t.Context(), q) })

		l := receive(t, b, 1, "now")[0]
		if !blocked(idle) {
			t.Fatal("WaitIdle returned with a message locked and one scheduled")
		}
		complete(t, b, l)
		if !blocked(idle) {
			t.Fatal("WaitIdle returned with a message scheduled")
		}
		clk.Advance(time.Minute)
		if err := b.DeadLetter(t.Context(), receive(t, b, 1, "later")[0], "r", "d"); err != nil {
			t.Fatalf("DeadLetter = %v", err)
		}
		if err := (<-idle).err; err != nil {
			t.Fatalf("WaitIdle = %v", err)
		}
	})
}

func TestWrongUse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newBroker(t, membroker.QueueOptions{})
		if err := b.CreateQueue("sessions", membroker.QueueOptions{RequiresSession: true}); err != nil {
			t.Fatal(err)
		}
		ctx := t.Context()
		if err := b.CreateQueue(q, membroker.QueueOptions{}); !errors.Is(err, membroker.ErrQueueExists) {
			t.Errorf("second CreateQueue = %v, want ErrQueueExists", err)
		}
		if err := b.CreateQueue("neg", membroker.QueueOptions{LockDuration: -1}); err == nil {
			t.Error("CreateQueue with a negative lock duration succeeded")
		}
		if _, err := b.Receive(ctx, "nope", 1); !errors.Is(err, membroker.ErrQueueNotFound) {
			t.Errorf("Receive on an unknown queue = %v, want ErrQueueNotFound", err)
		}
		if _, err := b.Receive(ctx, "sessions", 1); err == nil {
			t.Error("Receive on a session queue succeeded")
		}
		if _, err := b.AcceptNextSession(ctx, q); err == nil {
			t.Error("AcceptNextSession on a queue without sessions succeeded")
		}
		if _, err := b.Receive(ctx, q, 0); err == nil {
			t.Error("Receive(max 0) succeeded")
		}
		if _, err := b.Stats("nope"); !errors.Is(err, membroker.ErrQueueNotFound) {
			t.Errorf("Stats on an unknown queue = %v, want ErrQueueNotFound", err)
		}
		if err := b.WaitIdle(ctx, "nope"); !errors.Is(err, membroker.ErrQueueNotFound) {
			t.Errorf("WaitIdle on an unknown queue = %v, want ErrQueueNotFound", err)
		}
	})
}

func TestMessagesAreCopied(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newBroker(t, membroker.QueueOptions{})
		m := queue.Message{MessageID: "m", Body: []byte("original"), ApplicationProperties: map[string]string{"k": "original"}}
		send(t, b, m)
		m.Body[0] = 'X'
		m.ApplicationProperties["k"] = "changed"

		l := receive(t, b, 1, "m")[0]
		if string(l.Body) != "original" || l.ApplicationProperties["k"] != "original" {
			t.Fatalf("delivered %q, %v; want what was sent", l.Body, l.ApplicationProperties)
		}
		l.Body[0] = 'Y'
		l.ApplicationProperties["k"] = "changed"
		if err := b.Abandon(t.Context(), l); err != nil {
			t.Fatal(err)
		}
		if l := receive(t, b, 1, "m")[0]; string(l.Body) != "original" || l.ApplicationProperties["k"] != "original" {
			t.Fatalf("redelivered %q, %v; want what was sent", l.Body, l.ApplicationProperties)
		}
	})
}

// racingClock moves the fake clock by `by` just before the first After call
// registers, as a test goroutine calling Advance at that moment would.
type racingClock struct {
	*clock.Fake
	by   time.Duration
	once sync.Once
}

func (c *racingClock) After(d time.Duration) <-chan time.Time {
	c.once.Do(func() { c.Fake.Advance(c.by) })
	return c.Fake.After(d)
}

// If the clock moves while a receiver sets its alarm, the alarm lands late
// by as much; the broker must notice and wait for the right instant anyway.
func TestClockMovingWhileReceiverParksStillWakesIt(t *testing.T) {
	tests := []struct {
		name  string
		by    time.Duration
		later time.Duration // advanced by the test after the receiver parks
	}{
		{"moved past the due instant", time.Minute, 0},
		{"moved part of the way", 20 * time.Second, 40 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				clk := &racingClock{Fake: clock.NewFake(t0), by: tt.by}
				b := membroker.New(clk)
				if err := b.CreateQueue(q, membroker.QueueOptions{}); err != nil {
					t.Fatal(err)
				}
				m := msg("m", "")
				m.ScheduledEnqueueTime = t0.Add(time.Minute)
				send(t, b, m)
				got := async(func() ([]*membroker.Locked, error) { return b.Receive(t.Context(), q, 1) })
				if tt.later > 0 {
					if !blocked(got) {
						t.Fatal("Receive returned before the scheduled time")
					}
					clk.Advance(tt.later)
				}
				if r := <-got; r.err != nil || ids(r.v) != "m" {
					t.Fatalf("Receive = [%s], %v; want [m]", ids(r.v), r.err)
				}
			})
		})
	}
}

// With clock.Real the broker waits on time.After; inside a synctest bubble
// that is the bubble's fake time, so this runs instantly.
func TestRealClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := membroker.New(clock.Real{})
		if err := b.CreateQueue(q, membroker.QueueOptions{LockDuration: time.Minute}); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		m := msg("m", "")
		m.ScheduledEnqueueTime = start.Add(time.Hour)
		send(t, b, m)
		first := receive(t, b, 1, "m")[0]
		if waited := time.Since(start); waited != time.Hour {
			t.Errorf("scheduled message delivered after %s, want %s", waited, time.Hour)
		}
		second := receive(t, b, 1, "m")[0]
		if waited := time.Since(start); waited != time.Hour+time.Minute || second.DeliveryCount != 2 {
			t.Errorf("redelivered after %s with DeliveryCount %d, want %s and 2", waited, second.DeliveryCount, time.Hour+time.Minute)
		}
		if err := b.Complete(t.Context(), first); !errors.Is(err, membroker.ErrLockLost) {
			t.Errorf("Complete with the expired lock = %v, want ErrLockLost", err)
		}
		complete(t, b, second)
	})
}
