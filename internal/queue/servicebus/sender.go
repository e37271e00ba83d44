// Package servicebus is the production queue.Sender: it puts rostersync's
// queue messages on an Azure Service Bus queue with azservicebus.
//
// Messages go out in batches (NewMessageBatch, AddMessage, SendMessageBatch)
// sized by the service: when a batch is full the next message starts a new
// one, so one Send may make several round trips.
//
// This code has not run against a live namespace: none exists where it was
// written, and the official emulator needs Docker and SQL Server. The tests
// cover the message mapping and the batching through a fake batch; the
// azservicebus calls themselves are the documented ones (see
// /work/shared/research/azure.md section 2) and should be exercised against
// a real namespace or the emulator before production use.
package servicebus

import (
	"context"
	"errors"
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/rostersync/rostersync/internal/queue"
)

// Sender sends to one queue. It is safe for concurrent use, as the
// azservicebus sender beneath it is.
type Sender struct {
	queue string
	// client is closed by Close when this package created it.
	client *azservicebus.Client
	sender *azservicebus.Sender
	// newBatch starts an empty batch; tests replace it to cap batch sizes
	// without a network.
	newBatch func(context.Context) (batch, error)
}

var _ queue.Sender = (*Sender)(nil)

// batch is the part of azservicebus.MessageBatch (and the sender that sends
// it) that Send needs.
type batch interface {
	// add returns azservicebus.ErrMessageTooLarge when m does not fit.
	add(m *azservicebus.Message) error
	len() int
	send(ctx context.Context) error
}

// NewFromConnectionString connects with a connection string, for example a
// shared access key or the emulator's (UseDevelopmentEmulator=true). opts
// may be nil. Nothing is dialled until the first Send.
func NewFromConnectionString(connectionString, queueName string, opts *azservicebus.ClientOptions) (*Sender, error) {
	if queueName == "" {
		return nil, errors.New("service bus sender: queue name is empty")
	}
	client, err := azservicebus.NewClientFromConnectionString(connectionString, opts)
	if err != nil {
		return nil, fmt.Errorf("service bus sender for %s: %w", queueName, err)
	}
	return newSender(client, queueName, true)
}

// New connects to fullyQualifiedNamespace (such as
// "rostersync.servicebus.windows.net") with an Entra ID credential, which
// needs the "Azure Service Bus Data Sender" role on the queue. opts may be
// nil. Nothing is dialled until the first Send.
func New(fullyQualifiedNamespace string, cred azcore.TokenCredential, queueName string, opts *azservicebus.ClientOptions) (*Sender, error) {
	if queueName == "" {
		return nil, errors.New("service bus sender: queue name is empty")
	}
	client, err := azservicebus.NewClient(fullyQualifiedNamespace, cred, opts)
	if err != nil {
		return nil, fmt.Errorf("service bus sender for %s on %s: %w", queueName, fullyQualifiedNamespace, err)
	}
	return newSender(client, queueName, true)
}

// NewFromClient sends on an existing client, so that several queues share
// one AMQP connection. Close leaves the client open.
func NewFromClient(client *azservicebus.Client, queueName string) (*Sender, error) {
	if queueName == "" {
		return nil, errors.New("service bus sender: queue name is empty")
	}
	return newSender(client, queueName, false)
}

func newSender(client *azservicebus.Client, queueName string, ownClient bool) (*Sender, error) {
	sbs, err := client.NewSender(queueName, nil)
	if err != nil {
		if ownClient {
			_ = client.Close(context.Background()) // nothing was opened yet
		}
		return nil, fmt.Errorf("service bus sender for %s: %w", queueName, err)
	}
	s := &Sender{queue: queueName, sender: sbs}
	if ownClient {
		s.client = client
	}
	s.newBatch = func(ctx context.Context) (batch, error) {
		mb, err := sbs.NewMessageBatch(ctx, nil)
		if err != nil {
			return nil, err
		}
		return sbBatch{sender: sbs, batch: mb}, nil
	}
	return s, nil
}

type sbBatch struct {
	sender *azservicebus.Sender
	batch  *azservicebus.MessageBatch
}

func (b sbBatch) add(m *azservicebus.Message) error { return b.batch.AddMessage(m, nil) }
func (b sbBatch) len() int                          { return int(b.batch.NumMessages()) }
func (b sbBatch) send(ctx context.Context) error {
	return b.sender.SendMessageBatch(ctx, b.batch, nil)
}

// Send validates every message and sends nothing if one is invalid. It then
// fills batches in order, sending each when the next message no longer
// fits. A message too large for an empty batch fails with an error wrapping
// queue.ErrMessageTooLarge; the batches before it have been sent by then,
// which queue.Sender allows (re-sending is safe under duplicate detection).
func (s *Sender) Send(ctx context.Context, msgs ...queue.Message) error {
	for i, m := range msgs {
		if err := m.Validate(); err != nil {
			return fmt.Errorf("send to %s: message %d of %d: %w", s.queue, i+1, len(msgs), err)
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	sent := 0
	cur, err := s.newBatch(ctx)
	if err != nil {
		return fmt.Errorf("send to %s: start a batch: %w", s.queue, err)
	}
	for _, m := range msgs {
		sbm := toSBMessage(m)
		err := cur.add(sbm)
		if errors.Is(err, azservicebus.ErrMessageTooLarge) && cur.len() > 0 {
			// The batch is full: send it and retry in an empty one.
			if err := cur.send(ctx); err != nil {
				return fmt.Errorf("send to %s: batch of %d messages after %d sent: %w", s.queue, cur.len(), sent, err)
			}
			sent += cur.len()
			if cur, err = s.newBatch(ctx); err != nil {
				return fmt.Errorf("send to %s: start a batch after %d sent: %w", s.queue, sent, err)
			}
			err = cur.add(sbm)
		}
		switch {
		case errors.Is(err, azservicebus.ErrMessageTooLarge):
			// Validate passed, so the service's limit is below ours (its
			// count includes AMQP framing and system properties).
			return fmt.Errorf("send to %s: message %s (about %d bytes) does not fit in an empty batch (%v), %d messages before it were sent: %w",
				s.queue, m.MessageID, m.Size(), err, sent, queue.ErrMessageTooLarge)
		case err != nil:
			return fmt.Errorf("send to %s: add message %s to a batch: %w", s.queue, m.MessageID, err)
		}
	}
	if err := cur.send(ctx); err != nil {
		return fmt.Errorf("send to %s: batch of %d messages after %d sent: %w", s.queue, cur.len(), sent, err)
	}
	return nil
}

// Close closes the sender, and the client when this package created it.
func (s *Sender) Close(ctx context.Context) error {
	err := s.sender.Close(ctx)
	if s.client != nil {
		err = errors.Join(err, s.client.Close(ctx))
	}
	if err != nil {
		return fmt.Errorf("close service bus sender for %s: %w", s.queue, err)
	}
	return nil
}

// toSBMessage maps a queue.Message to its azservicebus form. Empty optional
// strings stay nil rather than becoming empty properties: an empty SessionID
// in particular would be refused by a session-enabled queue with a less
// helpful error than ours, and is meaningless elsewhere.
func toSBMessage(m queue.Message) *azservicebus.Message {
	out := &azservicebus.Message{
		MessageID:   &m.MessageID,
		SessionID:   optional(m.SessionID),
		Subject:     optional(m.Subject),
		ContentType: optional(m.ContentType),
		Body:        m.Body,
	}
	if !m.ScheduledEnqueueTime.IsZero() {
		// UTC also drops the monotonic reading, which means nothing remotely.
		t := m.ScheduledEnqueueTime.UTC()
		out.ScheduledEnqueueTime = &t
	}
	if len(m.ApplicationProperties) > 0 {
		out.ApplicationProperties = make(map[string]any, len(m.ApplicationProperties))
		for k, v := range m.ApplicationProperties {
			out.ApplicationProperties[k] = v
		}
	}
	return out
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
