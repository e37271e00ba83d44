// Package membroker is an in-process message broker with the Azure Service
// Bus queue semantics rostersync depends on. The local Functions host
// (rostersync dev) and the tests use it where production uses a Service Bus
// namespace, so that redelivery, ordering and dead-lettering behave locally
// the way they will in Azure.
//
// # What it models
//
//   - Peek-lock delivery: a received message is locked for the queue's
//     LockDuration and must be settled with Complete, Abandon or DeadLetter.
//     A lock that expires makes the message available again; settling it
//     afterwards fails with ErrLockLost.
//   - DeliveryCount starts at 1 and grows on every redelivery. A message
//     released (abandoned, lock expired, session closed) after its
//     MaxDeliveryCount-th delivery is dead-lettered with reason
//     "MaxDeliveryCountExceeded", as Service Bus does.
//   - Sessions: on a session-enabled queue one SessionReceiver at a time
//     holds a session, and it receives that session's messages in sequence
//     order, one batch in flight at a time (see SessionReceiver.Receive).
//   - Scheduled messages (Message.ScheduledEnqueueTime), duplicate detection
//     on MessageID, and a queue-wide time to live whose expiry dead-letters
//     with reason "TTLExpiredException".
//
// # Where it differs from Service Bus, on purpose
//
//   - A session lock does not expire; it is held until Close. The Functions
//     host renews session locks for as long as a handler runs, and in this
//     process a receiver can only vanish by forgetting Close, which is a bug
//     the tests should see as a stuck session rather than have hidden.
//   - Within a session each message still has its own lock of LockDuration,
//     so a handler that overruns loses its message as it would in Azure.
//   - SessionReceiver.Receive returns at once with nothing when its session
//     has nothing visible: a session idle timeout of zero, so the caller
//     closes the session and accepts the next one without waiting.
//   - Expired messages are always dead-lettered (Service Bus drops them
//     unless dead-lettering on expiration is enabled on the queue), so tests
//     can see them.
//   - No topics, transactions, lock renewal, deferral, session state or
//     per-message TTL (queue.Message has no TTL field).
//
// # Time and concurrency
//
// Every instant comes from the injected clock.Clock, so with clock.Fake a
// test moves scheduled delivery, lock expiry, TTL and the duplicate window
// by advancing the clock. The broker starts no goroutines: each blocking
// call waits in its caller's goroutine for a change to the queue, for the
// next instant at which something falls due on the clock, or for its
// context to end. Waiters share clock alarms, so a blocked receiver adds at
// most one pending clk.After per distinct due instant (what Fake.Waiters
// counts). A Broker is safe for concurrent use.
package membroker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/rostersync/rostersync/internal/clock"
	"github.com/rostersync/rostersync/internal/queue"
)

// Defaults applied to zero QueueOptions fields; they are Service Bus's.
const (
	DefaultMaxDeliveryCount = 10
	DefaultLockDuration     = time.Minute
)

// Dead-letter reasons the broker sets itself, spelled as Service Bus does.
const (
	ReasonMaxDeliveryCountExceeded = "MaxDeliveryCountExceeded"
	ReasonTTLExpired               = "TTLExpiredException"
)

var (
	// ErrQueueNotFound: no queue of that name was created on this broker.
	ErrQueueNotFound = errors.New("queue not found")
	// ErrQueueExists: CreateQueue was called twice with one name.
	ErrQueueExists = errors.New("queue already exists")
	// ErrLockLost: the message's lock expired, it was already settled, or
	// its session was closed. The message is (or was) delivered again, so
	// the handler's work must be safe to repeat.
	ErrLockLost = errors.New("lock lost")
)

// QueueOptions are a queue's properties. Zero values mean the defaults
// documented on each field.
type QueueOptions struct {
	// RequiresSession makes the queue session-enabled: every message needs
	// a SessionID and is received through AcceptNextSession.
	RequiresSession bool
	// MaxDeliveryCount is how many deliveries a message gets before it is
	// dead-lettered; 0 means DefaultMaxDeliveryCount.
	MaxDeliveryCount int
	// LockDuration is how long a received message stays locked; 0 means
	// DefaultLockDuration.
	LockDuration time.Duration
	// DuplicateDetectionWindow drops a message whose MessageID was accepted
	// less than this long ago; 0 turns duplicate detection off.
	DuplicateDetectionWindow time.Duration
	// DefaultTTL dead-letters a message not received within this long of
	// its enqueue time (for a scheduled message, its scheduled time); 0
	// means messages never expire.
	DefaultTTL time.Duration
}

// Locked is a delivered message under a peek-lock. Settle it with the
// Broker's Complete, Abandon or DeadLetter.
type Locked struct {
	queue.Delivery
	// LockedUntil is when the lock expires on the broker's clock.
	LockedUntil time.Time

	b     *Broker
	q     *queueState
	e     *entry
	token uint64
}

// DeadLettered is a message in a queue's dead-letter queue.
type DeadLettered struct {
	// Delivery is the message as last delivered; DeliveryCount is how many
	// times it was delivered (0 for a message that expired unreceived).
	queue.Delivery
	Reason         string
	Description    string
	DeadLetteredAt time.Time
}

// Stats counts a queue's messages by state.
type Stats struct {
	// Active messages are visible and unlocked: what a receiver gets now.
	Active int
	// Scheduled messages become visible at their ScheduledEnqueueTime.
	Scheduled int
	// Locked messages are delivered and not yet settled.
	Locked       int
	DeadLettered int
}

// Broker holds named queues. The zero value is not usable; call New.
type Broker struct {
	clk clock.Clock

	mu     sync.Mutex
	queues map[string]*queueState
	// changed is closed and replaced whenever a queue changes in a way a
	// blocked caller may be waiting for; waiters re-check on every close.
	changed chan struct{}
	// alarms are the pending clock waits blocked callers share.
	alarms []*alarm
	// lastToken numbers locks across the broker so that a token, once
	// released, never matches again.
	lastToken uint64
}

// New returns an empty broker that reads all time from clk.
func New(clk clock.Clock) *Broker {
	return &Broker{clk: clk, queues: map[string]*queueState{}, changed: make(chan struct{})}
}

// CreateQueue adds a queue. Queues cannot be deleted or changed later.
func (b *Broker) CreateQueue(name string, opts QueueOptions) error {
	switch {
	case name == "":
		return errors.New("create queue: name is empty")
	case opts.MaxDeliveryCount < 0, opts.LockDuration < 0, opts.DuplicateDetectionWindow < 0, opts.DefaultTTL < 0:
		return fmt.Errorf("create queue %s: options must not be negative: %+v", name, opts)
	}
	if opts.MaxDeliveryCount == 0 {
		opts.MaxDeliveryCount = DefaultMaxDeliveryCount
	}
	if opts.LockDuration == 0 {
		opts.LockDuration = DefaultLockDuration
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.queues[name]; ok {
		return fmt.Errorf("create queue %s: %w", name, ErrQueueExists)
	}
	b.queues[name] = &queueState{
		name:     name,
		opts:     opts,
		seen:     map[string]time.Time{},
		sessions: map[string]*SessionReceiver{},
	}
	return nil
}

// Sender returns a queue.Sender for the named queue. The queue is looked up
// on every Send, so a sender may be made before its queue is created.
//
// Send validates every message first (queue.Message.Validate, and a
// SessionID on session-enabled queues, refused with queue.ErrInvalidMessage)
// and sends nothing if one is invalid; otherwise it enqueues all of them
// atomically. A message whose MessageID was accepted within the duplicate
// detection window is dropped without error, as Service Bus does.
func (b *Broker) Sender(queueName string) queue.Sender {
	return sender{b: b, queue: queueName}
}

type sender struct {
	b     *Broker
	queue string
}

func (s sender) Send(ctx context.Context, msgs ...queue.Message) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("send to %s: %w", s.queue, err)
	}
	b := s.b
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.clk.Now()
	q, err := b.queueLocked(s.queue, now)
	if err != nil {
		return fmt.Errorf("send to %s: %w", s.queue, err)
	}
	for i, m := range msgs {
		if err := m.Validate(); err != nil {
			return fmt.Errorf("send to %s: message %d of %d: %w", s.queue, i+1, len(msgs), err)
		}
		if q.opts.RequiresSession && m.SessionID == "" {
			return fmt.Errorf("send to %s: message %s has no session id and the queue requires sessions: %w", s.queue, m.MessageID, queue.ErrInvalidMessage)
		}
	}
	for _, m := range msgs {
		q.enqueue(m, now)
	}
	b.notifyLocked()
	return nil
}

// Receive locks and returns up to maxMessages messages from a queue without
// sessions, in sequence order, blocking until at least one is available or
// ctx ends. Messages become available when sent, when their scheduled time
// passes, and when they are abandoned or their lock expires.
func (b *Broker) Receive(ctx context.Context, queueName string, maxMessages int) ([]*Locked, error) {
	if maxMessages < 1 {
		return nil, fmt.Errorf("receive from %s: maxMessages is %d, want at least 1", queueName, maxMessages)
	}
	var got []*Locked
	err := b.waitFor(ctx, func(now time.Time) (bool, time.Time, error) {
		q, err := b.queueLocked(queueName, now)
		if err != nil {
			return false, time.Time{}, err
		}
		if q.opts.RequiresSession {
			return false, time.Time{}, errors.New("the queue requires sessions: use AcceptNextSession")
		}
		var next time.Time
		for _, e := range q.entries {
			switch {
			case e.locked():
				next = earliest(next, e.lockedUntil)
			case !e.visible(now):
				next = earliest(next, e.visibleAt)
			case len(got) < maxMessages:
				got = append(got, b.lockLocked(q, e, now))
			}
		}
		return len(got) > 0, next, nil
	})
	if err != nil {
		return nil, fmt.Errorf("receive from %s: %w", queueName, err)
	}
	return got, nil
}

// AcceptNextSession locks a session of a session-enabled queue that has a
// visible message and no other receiver, blocking until there is one or
// ctx ends. Among candidates it takes the session whose next message was
// sent first. Close the receiver to release the session.
func (b *Broker) AcceptNextSession(ctx context.Context, queueName string) (*SessionReceiver, error) {
	var sr *SessionReceiver
	err := b.waitFor(ctx, func(now time.Time) (bool, time.Time, error) {
		q, err := b.queueLocked(queueName, now)
		if err != nil {
			return false, time.Time{}, err
		}
		if !q.opts.RequiresSession {
			return false, time.Time{}, errors.New("the queue is not session-enabled: use Receive")
		}
		var next time.Time
		for _, e := range q.entries {
			// Locked entries always belong to a held session: Close
			// releases the locks of the session it gives up.
			if q.sessions[e.msg.SessionID] != nil {
				continue
			}
			if !e.visible(now) {
				next = earliest(next, e.visibleAt)
				continue
			}
			sr = &SessionReceiver{b: b, q: q, id: e.msg.SessionID}
			q.sessions[sr.id] = sr
			return true, time.Time{}, nil
		}
		return false, next, nil
	})
	if err != nil {
		return nil, fmt.Errorf("accept session on %s: %w", queueName, err)
	}
	return sr, nil
}

// SessionReceiver holds the lock on one session of a session-enabled queue.
// While it is open no other receiver gets that session's messages.
type SessionReceiver struct {
	b  *Broker
	q  *queueState
	id string
	// closed is guarded by b.mu.
	closed bool
}

// SessionID names the session this receiver holds.
func (s *SessionReceiver) SessionID() string { return s.id }

// Receive locks and returns up to maxMessages of the session's visible
// messages in sequence order.
//
// One batch is in flight at a time: while a message this receiver was given
// is still locked, Receive blocks until it is settled or its lock expires
// (or ctx ends). With maxMessages 1 this is the Functions host's
// MaxConcurrentCallsPerSession of 1: the next message of a session is
// delivered only after the previous one was settled, so messages are
// handled strictly in order. A caller that receives again before settling
// what it holds therefore waits for its own lock to expire.
//
// When the session has no visible message Receive returns an empty slice
// and no error at once; the caller should Close and accept the next
// session. A Receive after Close fails with ErrLockLost.
func (s *SessionReceiver) Receive(ctx context.Context, maxMessages int) ([]*Locked, error) {
	if maxMessages < 1 {
		return nil, fmt.Errorf("receive from %s session %s: maxMessages is %d, want at least 1", s.q.name, s.id, maxMessages)
	}
	var got []*Locked
	err := s.b.waitFor(ctx, func(now time.Time) (bool, time.Time, error) {
		if s.closed {
			return false, time.Time{}, fmt.Errorf("session is closed: %w", ErrLockLost)
		}
		s.b.advanceLocked(s.q, now)
		var inFlight time.Time
		for _, e := range s.q.entries {
			if e.msg.SessionID == s.id && e.locked() {
				inFlight = earliest(inFlight, e.lockedUntil)
			}
		}
		if !inFlight.IsZero() {
			return false, inFlight, nil
		}
		for _, e := range s.q.entries {
			if len(got) == maxMessages {
				break
			}
			if e.msg.SessionID == s.id && e.visible(now) {
				got = append(got, s.b.lockLocked(s.q, e, now))
			}
		}
		return true, time.Time{}, nil
	})
	if err != nil {
		return nil, fmt.Errorf("receive from %s session %s: %w", s.q.name, s.id, err)
	}
	return got, nil
}

// Close releases the session. Messages the receiver still holds lose their
// locks, which counts as a delivery attempt, as when a Service Bus session
// lock is lost. Close is idempotent.
func (s *SessionReceiver) Close() {
	b := s.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	if s.q.sessions[s.id] == s {
		delete(s.q.sessions, s.id)
	}
	for _, e := range s.q.entries {
		if e.msg.SessionID == s.id {
			e.token = 0
		}
	}
	b.advanceLocked(s.q, b.clk.Now())
	b.notifyLocked()
}

// Complete removes a locked message from its queue: the handler succeeded.
func (b *Broker) Complete(ctx context.Context, l *Locked) error {
	return b.settle(ctx, "complete", l, func(q *queueState, e *entry, _ time.Time) {
		q.remove(e)
	})
}

// Abandon releases a message's lock so it is available again at once, with
// DeliveryCount one higher on its next delivery; this is what the Functions
// host does when an invocation fails. A message abandoned after its
// MaxDeliveryCount-th delivery is dead-lettered instead.
func (b *Broker) Abandon(ctx context.Context, l *Locked) error {
	return b.settle(ctx, "abandon", l, func(_ *queueState, e *entry, _ time.Time) {
		e.token = 0 // advanceLocked dead-letters it if it has had its deliveries
	})
}

// DeadLetter moves a locked message to its queue's dead-letter queue.
func (b *Broker) DeadLetter(ctx context.Context, l *Locked, reason, description string) error {
	return b.settle(ctx, "dead-letter", l, func(q *queueState, e *entry, now time.Time) {
		q.deadLetter(e, now, reason, description)
	})
}

func (b *Broker) settle(ctx context.Context, verb string, l *Locked, apply func(*queueState, *entry, time.Time)) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s message %s: %w", verb, l.MessageID, err)
	}
	if l.b != b {
		// Its state is guarded by the other broker's lock.
		return fmt.Errorf("%s message %s: it was received from another broker", verb, l.MessageID)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.clk.Now()
	// Expire locks first, so a settlement after LockedUntil fails even when
	// nothing else has looked at the queue since.
	b.advanceLocked(l.q, now)
	if l.e.token != l.token {
		return fmt.Errorf("%s message %s on %s (delivery %d, locked until %s): %w",
			verb, l.MessageID, l.q.name, l.DeliveryCount, l.LockedUntil.Format(time.RFC3339), ErrLockLost)
	}
	apply(l.q, l.e, now)
	b.advanceLocked(l.q, now)
	b.notifyLocked()
	return nil
}

// DeadLetters returns a copy of the queue's dead-letter queue, oldest first.
func (b *Broker) DeadLetters(queueName string) ([]DeadLettered, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	q, err := b.queueLocked(queueName, b.clk.Now())
	if err != nil {
		return nil, fmt.Errorf("dead letters of %s: %w", queueName, err)
	}
	out := make([]DeadLettered, len(q.dead))
	for i, d := range q.dead {
		d.Message = cloneMessage(d.Message)
		out[i] = d
	}
	return out, nil
}

// Stats counts the queue's messages as of the broker's clock now.
func (b *Broker) Stats(queueName string) (Stats, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.clk.Now()
	q, err := b.queueLocked(queueName, now)
	if err != nil {
		return Stats{}, fmt.Errorf("stats of %s: %w", queueName, err)
	}
	st := Stats{DeadLettered: len(q.dead)}
	for _, e := range q.entries {
		switch {
		case e.locked():
			st.Locked++
		case !e.visible(now):
			st.Scheduled++
		default:
			st.Active++
		}
	}
	return st, nil
}

// WaitIdle blocks until the queue holds no active, scheduled or locked
// message (dead letters do not count) or ctx ends. Scheduled messages keep
// the queue busy, so with a fake clock the test must advance it.
//
// A handler should send its follow-up messages before it completes the
// message it handles, as the Functions host does with output bindings;
// otherwise WaitIdle may see the queue empty in between.
func (b *Broker) WaitIdle(ctx context.Context, queueName string) error {
	err := b.waitFor(ctx, func(now time.Time) (bool, time.Time, error) {
		q, err := b.queueLocked(queueName, now)
		if err != nil {
			return false, time.Time{}, err
		}
		var next time.Time
		for _, e := range q.entries {
			switch {
			case e.locked():
				next = earliest(next, e.lockedUntil)
			case !e.visible(now):
				next = earliest(next, e.visibleAt)
			case !e.expiresAt.IsZero():
				next = earliest(next, e.expiresAt)
			}
		}
		return len(q.entries) == 0, next, nil
	})
	if err != nil {
		return fmt.Errorf("wait for %s to be idle: %w", queueName, err)
	}
	return nil
}

// queueLocked finds a queue and brings it up to now.
func (b *Broker) queueLocked(name string, now time.Time) (*queueState, error) {
	q, ok := b.queues[name]
	if !ok {
		return nil, ErrQueueNotFound
	}
	b.advanceLocked(q, now)
	return q, nil
}

// advanceLocked applies what the passage of time did to q and wakes the
// waiters if that changed anything.
func (b *Broker) advanceLocked(q *queueState, now time.Time) {
	if q.advance(now) {
		b.notifyLocked()
	}
}

func (b *Broker) notifyLocked() {
	close(b.changed)
	b.changed = make(chan struct{})
}

func (b *Broker) lockLocked(q *queueState, e *entry, now time.Time) *Locked {
	b.lastToken++
	e.token = b.lastToken
	e.deliveries++
	e.lockedUntil = now.Add(q.opts.LockDuration)
	return &Locked{Delivery: e.delivery(), LockedUntil: e.lockedUntil, b: b, q: q, e: e, token: e.token}
}

// waitFor calls try under the broker's lock until it reports done or an
// error. In between it sleeps until a queue changes, until the instant try
// returned as next (zero: none) passes on the clock, or until ctx ends.
// try must only return a next after now, or waitFor would spin.
func (b *Broker) waitFor(ctx context.Context, try func(now time.Time) (done bool, next time.Time, err error)) error {
	replanned := false
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		b.mu.Lock()
		now := b.clk.Now()
		done, next, err := try(now)
		if done || err != nil {
			b.mu.Unlock()
			return err
		}
		changed := b.changed
		var a *alarm
		var tick <-chan time.Time
		var rang <-chan struct{}
		if !next.IsZero() {
			var fresh bool
			a, fresh = b.alarmLocked(now, next)
			// If the clock moved between now and the After call, the alarm
			// rings late by up to that much. A fake clock moves only when a
			// test advances it, possibly right then, so look again once
			// rather than sleep past a due instant. The real clock always
			// moves a little, which is why this happens at most once per
			// sleep.
			if moved := b.clk.Now().Sub(now); fresh && moved > 0 {
				a.at = a.at.Add(moved)
				if !replanned {
					replanned = true
					b.mu.Unlock()
					continue
				}
			}
			tick, rang = a.tick, a.rang
		}
		b.mu.Unlock()

		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		case <-tick:
			a.ring()
		case <-rang:
		}
		replanned = false
	}
}

// An alarm is one clk.After shared by every waiter due at or after it:
// whichever waiter receives the tick rings the alarm, which wakes the rest.
// Sharing keeps the number of pending clock waits to one per due instant
// instead of one per loop of every blocked caller, since Clock has no way
// to cancel an After.
type alarm struct {
	// at is no earlier than when the alarm goes off.
	at   time.Time
	tick <-chan time.Time
	once sync.Once
	rang chan struct{}
}

func (a *alarm) ring() { a.once.Do(func() { close(a.rang) }) }

func (a *alarm) hasRung() bool {
	select {
	case <-a.rang:
		return true
	default:
		return false
	}
}

// alarmLocked returns an alarm that goes off no later than at, and whether
// it was made for this call. Waking early is harmless: the waiter re-checks
// and waits again.
func (b *Broker) alarmLocked(now, at time.Time) (*alarm, bool) {
	// Alarms that are due or have rung are forgotten: whatever fell due
	// then was applied by advance before any waiter decided to sleep.
	b.alarms = slices.DeleteFunc(b.alarms, func(a *alarm) bool { return !a.at.After(now) || a.hasRung() })
	var best *alarm
	for _, a := range b.alarms {
		if !a.at.After(at) && (best == nil || a.at.After(best.at)) {
			best = a
		}
	}
	if best != nil {
		return best, false
	}
	a := &alarm{at: at, tick: b.clk.After(at.Sub(now)), rang: make(chan struct{})}
	b.alarms = append(b.alarms, a)
	return a, true
}

type queueState struct {
	name    string
	opts    QueueOptions
	lastSeq int64
	// entries are the messages not yet settled, in sequence order.
	entries []*entry
	dead    []DeadLettered
	// seen maps MessageID to when it was accepted, for duplicate detection.
	seen map[string]time.Time
	// sessions are the sessions currently held, by SessionID.
	sessions map[string]*SessionReceiver
}

type entry struct {
	msg        queue.Message
	seq        int64
	enqueued   time.Time
	visibleAt  time.Time
	expiresAt  time.Time // zero: never
	deliveries int
	// token is the current lock's id, 0 when unlocked.
	token       uint64
	lockedUntil time.Time
}

func (e *entry) locked() bool               { return e.token != 0 }
func (e *entry) visible(now time.Time) bool { return !now.Before(e.visibleAt) }

func (e *entry) delivery() queue.Delivery {
	return queue.Delivery{
		Message:        cloneMessage(e.msg),
		DeliveryCount:  e.deliveries,
		EnqueuedTime:   e.enqueued,
		SequenceNumber: e.seq,
	}
}

func (q *queueState) enqueue(m queue.Message, now time.Time) {
	if w := q.opts.DuplicateDetectionWindow; w > 0 {
		if at, ok := q.seen[m.MessageID]; ok && now.Sub(at) < w {
			return
		}
		q.seen[m.MessageID] = now
	}
	q.lastSeq++
	// Service Bus stamps a scheduled message's EnqueuedTime with the time
	// it becomes active, and its TTL runs from then.
	enq := now
	if m.ScheduledEnqueueTime.After(now) {
		enq = m.ScheduledEnqueueTime
	}
	e := &entry{msg: cloneMessage(m), seq: q.lastSeq, enqueued: enq, visibleAt: enq}
	if q.opts.DefaultTTL > 0 {
		e.expiresAt = enq.Add(q.opts.DefaultTTL)
	}
	q.entries = append(q.entries, e)
}

// advance applies lock expiry, the delivery limit and TTL as of now, and
// reports whether any message changed state.
func (q *queueState) advance(now time.Time) bool {
	changed := false
	for _, e := range slices.Clone(q.entries) {
		if e.locked() && !now.Before(e.lockedUntil) {
			e.token = 0
			changed = true
		}
		if e.locked() {
			// A locked message neither expires nor counts against the
			// delivery limit until it is released, as in Service Bus.
			continue
		}
		switch {
		case e.deliveries >= q.opts.MaxDeliveryCount:
			q.deadLetter(e, now, ReasonMaxDeliveryCountExceeded,
				fmt.Sprintf("message was delivered %d times; the queue's MaxDeliveryCount is %d", e.deliveries, q.opts.MaxDeliveryCount))
			changed = true
		case !e.expiresAt.IsZero() && !now.Before(e.expiresAt):
			q.deadLetter(e, now, ReasonTTLExpired,
				fmt.Sprintf("message expired at %s, %s after it was enqueued", e.expiresAt.Format(time.RFC3339), q.opts.DefaultTTL))
			changed = true
		}
	}
	if w := q.opts.DuplicateDetectionWindow; w > 0 {
		maps.DeleteFunc(q.seen, func(_ string, at time.Time) bool { return now.Sub(at) >= w })
	}
	return changed
}

func (q *queueState) deadLetter(e *entry, now time.Time, reason, description string) {
	q.remove(e)
	q.dead = append(q.dead, DeadLettered{Delivery: e.delivery(), Reason: reason, Description: description, DeadLetteredAt: now})
}

func (q *queueState) remove(e *entry) {
	e.token = 0
	q.entries = slices.DeleteFunc(q.entries, func(x *entry) bool { return x == e })
}

func earliest(a, b time.Time) time.Time {
	if a.IsZero() || b.Before(a) {
		return b
	}
	return a
}

// cloneMessage copies the parts of a message a caller could mutate, so
// neither senders nor receivers can change what the broker holds.
func cloneMessage(m queue.Message) queue.Message {
	m.Body = bytes.Clone(m.Body)
	m.ApplicationProperties = maps.Clone(m.ApplicationProperties)
	return m
}
