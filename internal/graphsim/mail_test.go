package graphsim

import (
	"encoding/json"
	"testing"
)

func mailBody(mutate func(msg map[string]any)) map[string]any {
	msg := map[string]any{
		"subject":      "rostersync daily summary",
		"body":         map[string]any{"contentType": "HTML", "content": "<p>3 created</p>"},
		"toRecipients": []any{map[string]any{"emailAddress": map[string]any{"address": "it-logs@oakfield.example"}}},
	}
	if mutate != nil {
		mutate(msg)
	}
	return map[string]any{"message": msg, "saveToSentItems": false}
}

// TestSendMail follows https://learn.microsoft.com/en-us/graph/api/user-sendmail:
// a JSON message is answered 202 with no body and kept; a malformed one
// is refused and not kept.
func TestSendMail(t *testing.T) {
	h := newHarness(t, Options{})
	path := "/v1.0/users/" + ada + "/sendMail"
	for _, c := range []struct {
		name   string
		body   any
		hdr    []string
		status int
		code   string
	}{
		{"no message", map[string]any{"saveToSentItems": true}, nil, 400, CodeErrorInvalidRequest},
		{"unknown property", map[string]any{"message": map[string]any{}, "urgent": true}, nil, 400, CodeBadRequest},
		{"message not an object", map[string]any{"message": "hello"}, nil, 400, CodeBadRequest},
		{"no recipients", mailBody(func(m map[string]any) { delete(m, "toRecipients") }), nil, 400, "ErrorInvalidRecipients"},
		{"bad recipient", mailBody(func(m map[string]any) {
			m["toRecipients"] = []any{map[string]any{"emailAddress": map[string]any{"address": "not an address"}}}
		}), nil, 400, "ErrorInvalidRecipients"},
		{"bad content type", mailBody(func(m map[string]any) {
			m["body"] = map[string]any{"contentType": "markdown", "content": "*x*"}
		}), nil, 400, CodeErrorInvalidRequest},
		{"MIME form", []byte("RnJvbTogYQ=="), []string{"Content-Type", "text/plain"}, 400, CodeErrorInvalidRequest},
		{"empty body", []byte(""), nil, 400, CodeBadRequest},
		{"SDK casing, no recipients", map[string]any{"Message": map[string]any{"subject": "x"}, "SaveToSentItems": true}, nil, 400, "ErrorInvalidRecipients"},
	} {
		t.Run(c.name, func(t *testing.T) {
			h.want(h.do("POST", path, c.body, c.hdr...), c.status, c.code)
		})
	}
	if n := len(h.s.SentMail(eduTenant)); n != 0 {
		t.Fatalf("refused messages were kept: %d", n)
	}
	h.want(h.do("POST", "/v1.0/users/"+sam+"/sendMail", mailBody(nil)), 404, "MailboxNotEnabledForRESTAPI")
	h.want(h.do("GET", path, nil), 405, "")

	res := h.do("POST", path, mailBody(nil))
	h.want(res, 202, "")
	if res.raw != "" {
		t.Errorf("202 has a body: %q", res.raw)
	}
	sent := h.s.SentMail(eduTenant)
	if len(sent) != 1 {
		t.Fatalf("SentMail = %d messages, want 1", len(sent))
	}
	m := sent[0]
	if m.From != ada || m.Subject != "rostersync daily summary" || m.ContentType != "html" || m.Content != "<p>3 created</p>" ||
		len(m.To) != 1 || m.To[0] != "it-logs@oakfield.example" || m.SaveToSentItems {
		t.Errorf("SentMail[0] = %+v", m)
	}
	// The export carries it, and seeds it back.
	ts, _ := h.s.ExportTenant(eduTenant)
	b, _ := json.Marshal(ts)
	var back TenantState
	if err := json.Unmarshal(b, &back); err != nil || len(back.SentMail) != 1 || back.SentMail[0].Subject != m.Subject {
		t.Fatalf("export's sentMail = %+v, %v", back.SentMail, err)
	}
	s2 := New(Options{})
	if err := s2.AddTenant(back); err != nil {
		t.Fatal(err)
	}
	if got := s2.SentMail(eduTenant); len(got) != 1 {
		t.Errorf("a re-seeded simulator has %d sent messages, want 1", len(got))
	}
}
