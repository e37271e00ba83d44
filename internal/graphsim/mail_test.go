package graphsim

import (
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

var mimeHdr = []string{"Content-Type", "text/plain"}

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
		{"MIME form, no recipients", []byte(b64("From: a@b.example\r\nSubject: x\r\n\r\nhi")), mimeHdr, 400, "ErrorInvalidRecipients"},
		{"MIME form, not base64", []byte("To: a@b.example\r\n\r\nhi"), mimeHdr, 400, "ErrorMimeContentInvalidBase64String"},
		{"MIME form, empty", []byte(""), mimeHdr, 400, "ErrorMimeContentInvalidBase64String"},
		{"MIME form, malformed header", []byte(b64("To a@b.example\r\n\r\nhi")), mimeHdr, 400, "ErrorMimeContentInvalid"},
		{"MIME form, unknown transfer encoding", []byte(b64("To: a@b.example\r\nContent-Transfer-Encoding: x-uue\r\n\r\nhi")), mimeHdr, 400, "ErrorMimeContentInvalid"},
		{"MIME form, multipart without boundary", []byte(b64("To: a@b.example\r\nContent-Type: multipart/alternative\r\n\r\nhi")), mimeHdr, 400, "ErrorMimeContentInvalid"},
		{"MIME form, unterminated multipart", []byte(b64("To: a@b.example\r\nContent-Type: multipart/alternative; boundary=zz\r\n\r\n--zz\r\nContent-Type: text/plain\r\n\r\nhi\r\n")), mimeHdr, 400, "ErrorMimeContentInvalid"},
		{"MIME form, bad recipient", []byte(b64("To: not an address\r\n\r\nhi")), mimeHdr, 400, "ErrorInvalidRecipients"},
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

// TestSendMailMIME posts sendMail's MIME form (Content-Type text/plain, the
// whole message base64-encoded): a multipart/alternative message with a
// quoted-printable text part and a base64 HTML part, an RFC 2047 subject
// and two recipients is answered 202 and kept with its parts decoded.
func TestSendMailMIME(t *testing.T) {
	h := newHarness(t, Options{})
	msg := "To: \"IT logs\" <it-logs@oakfield.example>, head@oakfield.example\r\n" +
		"Cc: office@oakfield.example\r\n" +
		"Subject: =?utf-8?q?rostersync_daily_summary:_Caf=C3=A9_Academy?=\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n" +
		"--b1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
		"3 created, 1 held =E2=80=94 see the report\r\n" +
		"--b1\r\nContent-Type: text/html; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		base64.StdEncoding.EncodeToString([]byte("<p>3 created, 1 held</p>")) + "\r\n" +
		"--b1--\r\n"
	// Wrapped at 76 columns as many MIME encoders do.
	enc := b64(msg)
	var wrapped []byte
	for len(enc) > 76 {
		wrapped = append(wrapped, enc[:76]+"\r\n"...)
		enc = enc[76:]
	}
	wrapped = append(wrapped, enc...)
	res := h.do("POST", "/v1.0/users/"+ada+"/sendMail", wrapped, mimeHdr...)
	h.want(res, 202, "")
	sent := h.s.SentMail(eduTenant)
	if len(sent) != 1 {
		t.Fatalf("SentMail = %d messages, want 1", len(sent))
	}
	m := sent[0]
	want := []MailPart{
		{ContentType: "text/plain", Charset: "utf-8", Content: "3 created, 1 held \u2014 see the report"},
		{ContentType: "text/html", Charset: "utf-8", Content: "<p>3 created, 1 held</p>"},
	}
	if !m.MIME || !m.SaveToSentItems || m.From != ada || m.Subject != "rostersync daily summary: Caf\u00e9 Academy" {
		t.Errorf("SentMail[0] = %+v", m)
	}
	if strings.Join(m.To, ",") != "it-logs@oakfield.example,head@oakfield.example,office@oakfield.example" {
		t.Errorf("recipients = %v", m.To)
	}
	if !slices.Equal(m.Parts, want) {
		t.Errorf("parts = %+v, want %+v", m.Parts, want)
	}
	if m.ContentType != "html" || m.Content != want[1].Content {
		t.Errorf("body = %s %q, want the HTML part", m.ContentType, m.Content)
	}
}
