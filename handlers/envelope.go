// Package handlers is the Azure Functions custom-handler adapter: it decodes
// the host's invocation envelopes (timer, Service Bus, HTTP), calls the
// pipeline, and answers with the Outputs/Logs/ReturnValue envelope. It holds
// no sync logic of its own.
package handlers

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrBadEnvelope wraps every envelope decoding error.
var ErrBadEnvelope = errors.New("bad invocation envelope")

// InvokeRequest is the host's request body for a non-forwarded invocation.
type InvokeRequest struct {
	Data     map[string]json.RawMessage `json:"Data"`
	Metadata map[string]json.RawMessage `json:"Metadata"`
}

// InvokeResponse is the body the host expects back. Logs land in the
// invocation log, so they hold ids and counts only.
type InvokeResponse struct {
	Outputs     map[string]any `json:"Outputs"`
	Logs        []string       `json:"Logs"`
	ReturnValue any            `json:"ReturnValue"`
}

// DecodeInvokeRequest parses an envelope; Data must be present.
func DecodeInvokeRequest(body []byte) (InvokeRequest, error) {
	var req InvokeRequest
	if len(bytes.TrimSpace(body)) == 0 {
		return req, fmt.Errorf("%w: empty body", ErrBadEnvelope)
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return req, fmt.Errorf("%w: %v", ErrBadEnvelope, err)
	}
	if req.Data == nil {
		return req, fmt.Errorf("%w: no Data object", ErrBadEnvelope)
	}
	return req, nil
}

// unwrapValue peels the host's serialisation layers off a value: a JSON
// string is decoded, and decoded again when it holds another JSON string
// (the host quotes once, some bindings twice). The result is the raw bytes
// of the innermost value; a non-string value is returned as it is.
func unwrapValue(raw json.RawMessage) []byte {
	v := bytes.TrimSpace(raw)
	for range 2 {
		if len(v) == 0 || v[0] != '"' {
			return v
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return v
		}
		v = []byte(s)
	}
	return v
}

// DecodeBody returns a trigger's payload bytes: a JSON object as it is, a
// quoted or twice-quoted string unquoted, and base64 (the host's encoding of
// byte[] bodies) decoded when what it hides is JSON.
func DecodeBody(raw json.RawMessage) []byte {
	v := unwrapValue(raw)
	if len(v) == 0 || json.Valid(v) && (v[0] == '{' || v[0] == '[') {
		return v
	}
	if dec, err := base64.StdEncoding.DecodeString(string(v)); err == nil {
		inner := unwrapValue(dec)
		if json.Valid(inner) {
			return inner
		}
	}
	return v
}

// metaString reads a metadata value as text whatever its quoting; absent or
// null gives "".
func metaString(meta map[string]json.RawMessage, key string) string {
	raw, ok := meta[key]
	if !ok {
		return ""
	}
	v := unwrapValue(raw)
	if string(v) == "null" {
		return ""
	}
	return string(v)
}

// metaInt reads a number that may arrive as a number or a string.
func metaInt(meta map[string]json.RawMessage, key string) (int64, bool, error) {
	s := metaString(meta, key)
	if s == "" {
		return 0, false, nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return 0, true, fmt.Errorf("%w: metadata %s = %q: want an integer", ErrBadEnvelope, key, s)
	}
	return n, true, nil
}

// metaTime reads a timestamp in any of the layouts the host writes.
func metaTime(meta map[string]json.RawMessage, key string) (time.Time, error) {
	s := metaString(meta, key)
	if s == "" {
		return time.Time{}, nil
	}
	return parseHostTime(s)
}

func parseHostTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.9999999", "2006-01-02T15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%w: time %q: want RFC 3339", ErrBadEnvelope, s)
}

// sysUtcNow returns Metadata.sys.UtcNow, the host's clock at invocation.
func sysUtcNow(meta map[string]json.RawMessage) (time.Time, error) {
	raw, ok := meta["sys"]
	if !ok {
		return time.Time{}, nil
	}
	var sys map[string]json.RawMessage
	if err := json.Unmarshal(unwrapValue(raw), &sys); err != nil {
		return time.Time{}, fmt.Errorf("%w: Metadata.sys: %v", ErrBadEnvelope, err)
	}
	return metaTime(sys, "UtcNow")
}

// TimerInfo is a decoded timer trigger.
type TimerInfo struct {
	IsPastDue bool
	// Last and Next come from ScheduleStatus, which the host omits when
	// the schedule monitor is off.
	Last, Next time.Time
	// UtcNow is the host's clock at invocation; zero when not sent.
	UtcNow time.Time
}

// DecodeTimer reads the timer binding named binding.
func DecodeTimer(req InvokeRequest, binding string) (TimerInfo, error) {
	raw, ok := req.Data[binding]
	if !ok {
		return TimerInfo{}, fmt.Errorf("%w: no Data.%s timer binding", ErrBadEnvelope, binding)
	}
	var t struct {
		IsPastDue      json.RawMessage
		ScheduleStatus *struct{ Last, Next, LastUpdated json.RawMessage }
	}
	if err := json.Unmarshal(unwrapValue(raw), &t); err != nil {
		return TimerInfo{}, fmt.Errorf("%w: Data.%s: %v", ErrBadEnvelope, binding, err)
	}
	var info TimerInfo
	if len(t.IsPastDue) > 0 {
		b, err := strconv.ParseBool(string(unwrapValue(t.IsPastDue)))
		if err != nil {
			return TimerInfo{}, fmt.Errorf("%w: Data.%s.IsPastDue = %s: want true or false", ErrBadEnvelope, binding, t.IsPastDue)
		}
		info.IsPastDue = b
	}
	if st := t.ScheduleStatus; st != nil {
		var err error
		if info.Last, err = optionalTime(st.Last); err != nil {
			return TimerInfo{}, err
		}
		if info.Next, err = optionalTime(st.Next); err != nil {
			return TimerInfo{}, err
		}
	}
	now, err := sysUtcNow(req.Metadata)
	if err != nil {
		return TimerInfo{}, err
	}
	info.UtcNow = now
	return info, nil
}

func optionalTime(raw json.RawMessage) (time.Time, error) {
	s := string(unwrapValue(raw))
	if s == "" || s == "null" {
		return time.Time{}, nil
	}
	return parseHostTime(s)
}

// ServiceBusMessage is a decoded Service Bus trigger.
type ServiceBusMessage struct {
	Body           []byte
	MessageID      string
	SessionID      string
	ContentType    string
	DeliveryCount  int
	SequenceNumber int64
	EnqueuedTime   time.Time
}

// DecodeServiceBus reads the Service Bus binding named binding and the
// message properties the extension puts in Metadata.
func DecodeServiceBus(req InvokeRequest, binding string) (ServiceBusMessage, error) {
	raw, ok := req.Data[binding]
	if !ok {
		return ServiceBusMessage{}, fmt.Errorf("%w: no Data.%s message binding", ErrBadEnvelope, binding)
	}
	m := ServiceBusMessage{
		Body:        DecodeBody(raw),
		MessageID:   metaString(req.Metadata, "MessageId"),
		SessionID:   metaString(req.Metadata, "SessionId"),
		ContentType: metaString(req.Metadata, "ContentType"),
	}
	dc, present, err := metaInt(req.Metadata, "DeliveryCount")
	if err != nil {
		return m, err
	}
	if !present || dc < 1 {
		dc = 1 // the first delivery; the host always sends it, be lenient
	}
	m.DeliveryCount = int(dc)
	if m.SequenceNumber, _, err = metaInt(req.Metadata, "SequenceNumber"); err != nil {
		return m, err
	}
	if m.EnqueuedTime, err = metaTime(req.Metadata, "EnqueuedTimeUtc"); err != nil {
		return m, err
	}
	return m, nil
}

// HTTPRequestData is the HTTP trigger payload of a non-forwarded invocation.
type HTTPRequestData struct {
	URL     string              `json:"Url"`
	Method  string              `json:"Method"`
	Headers map[string][]string `json:"Headers"`
	Body    []byte              `json:"-"`
}

// DecodeHTTP reads the HTTP trigger binding named binding.
func DecodeHTTP(req InvokeRequest, binding string) (HTTPRequestData, error) {
	raw, ok := req.Data[binding]
	if !ok {
		return HTTPRequestData{}, fmt.Errorf("%w: no Data.%s http binding", ErrBadEnvelope, binding)
	}
	var h struct {
		HTTPRequestData
		Body json.RawMessage `json:"Body"`
	}
	if err := json.Unmarshal(unwrapValue(raw), &h); err != nil {
		return HTTPRequestData{}, fmt.Errorf("%w: Data.%s: %v", ErrBadEnvelope, binding, err)
	}
	out := h.HTTPRequestData
	if out.Method == "" || out.URL == "" {
		return out, fmt.Errorf("%w: Data.%s: Method and Url are required", ErrBadEnvelope, binding)
	}
	if len(h.Body) > 0 && string(h.Body) != "null" {
		out.Body = unwrapValue(h.Body)
	}
	return out, nil
}
