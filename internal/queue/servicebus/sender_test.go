package servicebus

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/rostersync/rostersync/internal/queue"
)

func TestToSBMessage(t *testing.T) {
	ptr := func(s string) *string { return &s }
	sydney := time.FixedZone("AEST", 10*60*60)
	at := time.Date(2026, 9, 2, 12, 0, 0, 0, sydney)
	atUTC := time.Date(2026, 9, 2, 2, 0, 0, 0, time.UTC)

	tests := []struct {
		name string
		in   queue.Message
		want *azservicebus.Message
	}{
		{
			name: "every field",
			in: queue.Message{
				MessageID:             "cust|prof|users|2026-09-02|0",
				SessionID:             "cust",
				Subject:               "sync/users",
				ContentType:           "application/json",
				Body:                  []byte(`{"v":1}`),
				ScheduledEnqueueTime:  at,
				ApplicationProperties: map[string]string{"run": "r1", "attempt": "2"},
			},
			want: &azservicebus.Message{
				MessageID:             ptr("cust|prof|users|2026-09-02|0"),
				SessionID:             ptr("cust"),
				Subject:               ptr("sync/users"),
				ContentType:           ptr("application/json"),
				Body:                  []byte(`{"v":1}`),
				ScheduledEnqueueTime:  &atUTC,
				ApplicationProperties: map[string]any{"run": "r1", "attempt": "2"},
			},
		},
		{
			name: "empty optional fields stay unset",
			in:   queue.Message{MessageID: "m"},
			want: &azservicebus.Message{MessageID: ptr("m")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := toSBMessage(tt.in)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("toSBMessage(%+v)\n got %s\nwant %s", tt.in, describe(got), describe(tt.want))
			}
		})
	}
}

func TestToSBMessageScheduledTimeIsSameInstantInUTC(t *testing.T) {
	local := time.Now().Add(time.Hour) // carries a monotonic reading
	got := toSBMessage(queue.Message{MessageID: "m", ScheduledEnqueueTime: local}).ScheduledEnqueueTime
	if got == nil || !got.Equal(local) || got.Location() != time.UTC || *got != got.Round(0) {
		t.Errorf("ScheduledEnqueueTime = %v, want %v in UTC without a monotonic reading", got, local)
	}
}

func describe(m *azservicebus.Message) string {
	s := func(p *string) string {
		if p == nil {
			return "<nil>"
		}
		return *p
	}
	var at string
	if m.ScheduledEnqueueTime != nil {
		at = m.ScheduledEnqueueTime.String()
	}
	return "{id " + s(m.MessageID) + ", session " + s(m.SessionID) + ", subject " + s(m.Subject) +
		", content type " + s(m.ContentType) + ", body " + string(m.Body) + ", scheduled " + at + "}"
}

// fakeBatch holds messages up to maxBytes, counting only body and id: real
// batches also count framing, which does not matter for rollover logic.
type fakeBatch struct {
	f     *fakeService
	bytes int
	ids   []string
}

func (b *fakeBatch) add(m *azservicebus.Message) error {
	n := len(m.Body) + len(*m.MessageID)
	if b.bytes+n > b.f.maxBytes {
		return azservicebus.ErrMessageTooLarge
	}
	b.bytes += n
	b.ids = append(b.ids, *m.MessageID)
	return nil
}

func (b *fakeBatch) len() int { return len(b.ids) }

func (b *fakeBatch) send(context.Context) error {
	if b.f.sendErr != nil {
		return b.f.sendErr
	}
	b.f.sent = append(b.f.sent, strings.Join(b.ids, ","))
	return nil
}

type fakeService struct {
	maxBytes int
	sendErr  error
	batches  int
	sent     []string // one entry per batch sent: its message ids
}

func (f *fakeService) sender() *Sender {
	return &Sender{queue: "jobs", newBatch: func(context.Context) (batch, error) {
		f.batches++
		return &fakeBatch{f: f}, nil
	}}
}

// m returns a message whose id and body together take size bytes.
func m(id string, size int) queue.Message {
	return queue.Message{MessageID: id, Body: make([]byte, size-len(id))}
}

func TestSendBatching(t *testing.T) {
	broken := errors.New("link detached")
	tests := []struct {
		name     string
		maxBytes int
		sendErr  error
		msgs     []queue.Message
		wantSent []string
		wantErr  error
	}{
		{"nothing to send", 100, nil, nil, nil, nil},
		{"one batch", 100, nil, []queue.Message{m("a", 30), m("b", 30), m("c", 40)}, []string{"a,b,c"}, nil},
		{"rolls over into several batches", 100, nil,
			[]queue.Message{m("a", 60), m("b", 30), m("c", 20), m("d", 90), m("e", 100), m("f", 1)},
			[]string{"a,b", "c", "d", "e", "f"}, nil},
		{"message too large for an empty batch", 100, nil, []queue.Message{m("big", 101)}, nil, queue.ErrMessageTooLarge},
		{"too large after others: earlier batches went out", 100, nil,
			[]queue.Message{m("a", 60), m("b", 60), m("big", 101), m("c", 1)},
			[]string{"a", "b"}, queue.ErrMessageTooLarge},
		{"invalid message: nothing sent", 100, nil, []queue.Message{m("a", 10), {MessageID: ""}}, nil, queue.ErrInvalidMessage},
		{"over the queue package's limit: nothing sent", queue.MaxMessageSize * 2, nil,
			[]queue.Message{m("a", 10), m("big", queue.MaxMessageSize+1)}, nil, queue.ErrMessageTooLarge},
		{"send fails", 100, broken, []queue.Message{m("a", 10)}, nil, broken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeService{maxBytes: tt.maxBytes, sendErr: tt.sendErr}
			err := f.sender().Send(t.Context(), tt.msgs...)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("Send = %v, want errors.Is %v", err, tt.wantErr)
			}
			if !reflect.DeepEqual(f.sent, tt.wantSent) {
				t.Errorf("batches sent = %q, want %q", f.sent, tt.wantSent)
			}
			if errors.Is(tt.wantErr, queue.ErrInvalidMessage) && f.batches != 0 {
				t.Errorf("an invalid message still started %d batches", f.batches)
			}
		})
	}
}

func TestSendValidatesBeforeStartingABatch(t *testing.T) {
	f := &fakeService{maxBytes: 1000}
	err := f.sender().Send(t.Context(), m("a", 10), queue.Message{MessageID: strings.Repeat("x", queue.MaxMessageIDLength+1)})
	if !errors.Is(err, queue.ErrInvalidMessage) {
		t.Fatalf("Send = %v, want ErrInvalidMessage", err)
	}
	if f.batches != 0 || len(f.sent) != 0 {
		t.Errorf("started %d batches and sent %q, want none", f.batches, f.sent)
	}
}

type fakeCredential struct{}

func (fakeCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{}, errors.New("fake credential: no tokens here")
}

// The constructors dial nothing, so they can be checked without a
// namespace; sending would need one.
func TestConstructors(t *testing.T) {
	const emulator = "Endpoint=sb://localhost;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true;"
	tests := []struct {
		name    string
		new     func() (*Sender, error)
		wantErr bool
	}{
		{"connection string", func() (*Sender, error) { return NewFromConnectionString(emulator, "jobs", nil) }, false},
		{"malformed connection string", func() (*Sender, error) { return NewFromConnectionString("not a connection string", "jobs", nil) }, true},
		{"empty connection string", func() (*Sender, error) { return NewFromConnectionString("", "jobs", nil) }, true},
		{"empty queue name", func() (*Sender, error) { return NewFromConnectionString(emulator, "", nil) }, true},
		{"namespace and credential", func() (*Sender, error) {
			return New("rostersync.servicebus.windows.net", fakeCredential{}, "jobs", nil)
		}, false},
		{"credential, empty queue name", func() (*Sender, error) {
			return New("rostersync.servicebus.windows.net", fakeCredential{}, "", nil)
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := tt.new()
			if (err != nil) != tt.wantErr {
				t.Fatalf("constructor error = %v, want error: %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if s.queue != "jobs" || s.client == nil || s.newBatch == nil {
				t.Errorf("sender = %+v, want queue jobs with its own client", s)
			}
			if err := s.Close(t.Context()); err != nil {
				t.Errorf("Close = %v", err)
			}
		})
	}
}

func TestNewFromClientLeavesClientOpen(t *testing.T) {
	client, err := azservicebus.NewClient("rostersync.servicebus.windows.net", fakeCredential{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close(t.Context())
	s, err := NewFromClient(client, "jobs")
	if err != nil {
		t.Fatalf("NewFromClient = %v", err)
	}
	if s.client != nil {
		t.Error("a sender on a shared client owns it")
	}
	if err := s.Close(t.Context()); err != nil {
		t.Errorf("Close = %v", err)
	}
	if _, err := NewFromClient(client, ""); err == nil {
		t.Error("NewFromClient with an empty queue name succeeded")
	}
}
