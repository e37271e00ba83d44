// Package queue holds what travels between the scheduler and the job runner:
// the Service Bus message shape, the sender the domain depends on, the job a
// message carries, and the result a job handler returns.
//
// Two senders implement Sender: queue/servicebus (production, azservicebus)
// and queue/membroker (an in-process broker with Service Bus semantics used
// by the local host and the tests).
package queue

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Service Bus limits the senders enforce before anything leaves the process.
const (
	MaxMessageIDLength = 128
	MaxSessionIDLength = 128
	// MaxMessageSize is the Standard tier's message size limit (body plus
	// properties); Premium allows more, but our jobs carry keys only.
	MaxMessageSize = 256 * 1024
)

var (
	// ErrMessageTooLarge: the message cannot fit in one Service Bus message.
	ErrMessageTooLarge = errors.New("message too large")
	// ErrInvalidMessage: an id is missing or too long.
	ErrInvalidMessage = errors.New("invalid message")
)

// Message is one Service Bus message as the domain sees it.
type Message struct {
	// MessageID is what duplicate detection compares; deterministic ids make
	// re-sends harmless.
	MessageID string
	// SessionID orders messages: one session is processed by one consumer
	// at a time, in FIFO order. Required on session-enabled queues.
	SessionID   string
	Subject     string
	ContentType string
	Body        []byte
	// ScheduledEnqueueTime delays visibility until then; zero means now.
	ScheduledEnqueueTime time.Time
	// ApplicationProperties are kept to strings: Service Bus accepts AMQP
	// primitives only and strings survive every hop unchanged.
	ApplicationProperties map[string]string
}

// Size approximates the message's size on the wire for limit checks.
func (m Message) Size() int {
	n := len(m.Body) + len(m.MessageID) + len(m.SessionID) + len(m.Subject) + len(m.ContentType)
	for k, v := range m.ApplicationProperties {
		n += len(k) + len(v)
	}
	return n
}

// Validate checks the limits Service Bus would otherwise reject later.
func (m Message) Validate() error {
	switch {
	case m.MessageID == "":
		return fmt.Errorf("message id is empty: %w", ErrInvalidMessage)
	case len(m.MessageID) > MaxMessageIDLength:
		return fmt.Errorf("message id is %d characters, the limit is %d: %w", len(m.MessageID), MaxMessageIDLength, ErrInvalidMessage)
	case len(m.SessionID) > MaxSessionIDLength:
		return fmt.Errorf("session id is %d characters, the limit is %d: %w", len(m.SessionID), MaxSessionIDLength, ErrInvalidMessage)
	case m.Size() > MaxMessageSize:
		return fmt.Errorf("message %s is %d bytes, the limit is %d: %w", m.MessageID, m.Size(), MaxMessageSize, ErrMessageTooLarge)
	}
	return nil
}

// Sender puts messages on one queue. Implementations validate every message
// first and send nothing when one is invalid. A failed Send may have sent a
// prefix of msgs; with deterministic MessageIDs and duplicate detection,
// sending the whole slice again is safe.
type Sender interface {
	Send(ctx context.Context, msgs ...Message) error
}

// Delivery is a message handed to a handler, with the broker's bookkeeping.
type Delivery struct {
	Message
	// DeliveryCount starts at 1 and grows on every abandon or lock expiry.
	DeliveryCount  int
	EnqueuedTime   time.Time
	SequenceNumber int64
}

// SenderFunc adapts a function to Sender.
type SenderFunc func(ctx context.Context, msgs ...Message) error

func (f SenderFunc) Send(ctx context.Context, msgs ...Message) error { return f(ctx, msgs...) }

var _ Sender = SenderFunc(nil)
