package graph

import (
	"strings"
	"testing"

	"github.com/rostersync/rostersync/internal/graphsim"
)

// TestSendMailMIME sends through the MIME form to the simulator: the
// message it keeps is multipart/alternative with the plain-text and the
// HTML part (text lines end CRLF on the wire, as RFC 5322 says), the subject (non-ASCII, RFC 2047 encoded on the wire) and the
// recipients; a line break in the subject does not become a header; the
// simulator's refusal is the client's error.
func TestSendMailMIME(t *testing.T) {
	env := newSimEnv(t, graphsim.Options{}, simTenant(), nil)
	sender := "sam.member@" + simDomain
	m := Mail{
		To:      []string{"it-logs@oakfield.example", "Head <head@oakfield.example>"},
		Subject: "rostersync daily summary: Café Academy\r\nBcc: leak@evil.example",
		HTML:    "<p>3 created — <a href=\"https://x.example/r?a=1&b=2\">report</a></p>",
		Text:    "3 created — report: https://x.example/r?a=1&b=2\n" + strings.Repeat("long line ", 20),
	}
	if err := env.client.SendMail(t.Context(), sender, m); err != nil {
		t.Fatalf("SendMail: %v", err)
	}
	sent := env.sim.SentMail(tenantA)
	if len(sent) != 1 {
		t.Fatalf("simulator kept %d messages, want 1", len(sent))
	}
	got := sent[0]
	if !got.MIME || got.From != simMember || !got.SaveToSentItems {
		t.Errorf("kept %+v", got)
	}
	if got.Subject != "rostersync daily summary: Café Academy\r\nBcc: leak@evil.example" {
		t.Errorf("subject = %q", got.Subject)
	}
	if strings.Join(got.To, ",") != "it-logs@oakfield.example,head@oakfield.example" {
		t.Errorf("recipients = %v (a subject's line break must not add one)", got.To)
	}
	if len(got.Parts) != 2 ||
		got.Parts[0].ContentType != "text/plain" || got.Parts[0].Charset != "utf-8" || got.Parts[0].Content != strings.ReplaceAll(m.Text, "\n", "\r\n") ||
		got.Parts[1].ContentType != "text/html" || got.Parts[1].Charset != "utf-8" || got.Parts[1].Content != m.HTML {
		t.Errorf("parts = %+v", got.Parts)
	}

	// A mailbox the tenant does not have: Graph's 404 comes back as the error.
	err := env.client.SendMail(t.Context(), "nobody@"+simDomain, m)
	if err == nil || !strings.Contains(err.Error(), "ErrorInvalidUser") {
		t.Errorf("SendMail from a missing mailbox = %v", err)
	}
	// An address that is not one is refused before anything is sent.
	if err := env.client.SendMail(t.Context(), sender, Mail{To: []string{"not an address"}, Subject: "x"}); err == nil {
		t.Error("SendMail to a malformed address succeeded")
	}
	if n := len(env.sim.SentMail(tenantA)); n != 1 {
		t.Errorf("simulator kept %d messages, want 1", n)
	}
}
