package graphsim

import (
	"net/http"
	"net/mail"
	"strings"
	"time"
)

// POST /users/{id | userPrincipalName}/sendMail, as documented at
// https://learn.microsoft.com/en-us/graph/api/user-sendmail (v1.0): a JSON
// body {"message": {subject, body {contentType text|html, content},
// toRecipients [{emailAddress {address}}], ...}, "saveToSentItems": bool
// (optional, default true)}, answered 202 Accepted with no body; or, with
// Content-Type text/plain, the MIME form: the whole RFC 5322 message
// base64-encoded, always saved to Sent Items (mime.go). The simulator
// keeps each accepted message for tests (Server.SentMail) and the export;
// nothing is delivered.

// SentMail is one message the simulator accepted.
type SentMail struct {
	// From is the mailbox it was sent from (its user id, as addressed).
	From            string    `json:"from"`
	SentAt          time.Time `json:"sentAt"`
	SaveToSentItems bool      `json:"saveToSentItems"`
	Subject         string    `json:"subject"`
	ContentType     string    `json:"contentType"`
	Content         string    `json:"content"`
	To              []string  `json:"to"`
	// MIME says the message came in the MIME form; Parts are then its
	// leaf parts, decoded, in order (ContentType/Content are the body
	// Outlook would show: the HTML part, else the first text part).
	MIME  bool       `json:"mime,omitempty"`
	Parts []MailPart `json:"parts,omitempty"`
}

// MailPart is one leaf part of a MIME message.
type MailPart struct {
	// ContentType is the part's media type, lower case, without
	// parameters ("text/plain").
	ContentType string `json:"contentType"`
	Charset     string `json:"charset,omitempty"`
	// Content is the part's body, its transfer encoding undone.
	Content string `json:"content"`
}

var sendMailProps = map[string]propKind{"message": kObject, "saveToSentItems": kBool}

var messageProps = map[string]propKind{
	"subject": kString, "body": kObject, "toRecipients": kObjects, "ccRecipients": kObjects,
	"bccRecipients": kObjects, "replyTo": kObjects, "importance": kString, "attachments": kObjects,
	"internetMessageHeaders": kObjects, "from": kObject,
}

func invalidMail(format string, args ...any) *apiError {
	return errf(http.StatusBadRequest, CodeErrorInvalidRequest, format, args...)
}

func (s *Server) sendMail(r *request, v []string) (*response, *apiError) {
	t := r.tenant
	u, aerr := s.mailbox(t, v[0])
	if aerr != nil {
		return nil, aerr
	}
	if ct := strings.ToLower(r.header.Get("Content-Type")); strings.HasPrefix(ct, "text/plain") {
		m, aerr := parseMIMEMail(r.body)
		if aerr != nil {
			return nil, aerr
		}
		m.From, m.SentAt, m.SaveToSentItems = u.id, s.now().UTC(), true
		t.sentMail = append(t.sentMail, m)
		return &response{status: http.StatusAccepted, header: http.Header{}}, nil
	}
	body, aerr := decodeObject(r)
	if aerr != nil {
		return nil, aerr
	}
	// Action parameters match case-insensitively: msgraph-sdk-go sends
	// "Message" and "SaveToSentItems", and Graph takes them.
	for k, val := range body {
		for name := range sendMailProps {
			if k != name && strings.EqualFold(k, name) {
				delete(body, k)
				body[name] = val
			}
		}
	}
	if aerr := checkTypes(body, "sendMail", sendMailProps); aerr != nil {
		return nil, aerr
	}
	msg, ok := body["message"].(map[string]any)
	if !ok {
		return nil, invalidMail("Your request can't be completed. The message property is required.")
	}
	if aerr := checkTypes(msg, "message", messageProps); aerr != nil {
		return nil, aerr
	}
	m := SentMail{From: u.id, SentAt: s.now().UTC(), SaveToSentItems: true, Subject: str(msg["subject"])}
	if b, ok := body["saveToSentItems"].(bool); ok {
		m.SaveToSentItems = b
	}
	if mb, ok := msg["body"].(map[string]any); ok {
		m.ContentType, m.Content = strings.ToLower(str(mb["contentType"])), str(mb["content"])
		if m.ContentType != "text" && m.ContentType != "html" {
			return nil, invalidMail("Requested value '%s' was not found.", str(mb["contentType"]))
		}
	}
	rcpts, _ := msg["toRecipients"].([]any)
	cc, _ := msg["ccRecipients"].([]any)
	bcc, _ := msg["bccRecipients"].([]any)
	if len(rcpts)+len(cc)+len(bcc) == 0 {
		return nil, errf(http.StatusBadRequest, "ErrorInvalidRecipients", "At least one recipient isn't valid., A message can't be sent because it contains no recipients.")
	}
	for _, list := range [][]any{rcpts, cc, bcc} {
		for _, rc := range list {
			ea, _ := rc.(map[string]any)["emailAddress"].(map[string]any)
			addr := str(ea["address"])
			if _, err := mail.ParseAddress(addr); err != nil || addr == "" {
				return nil, errf(http.StatusBadRequest, "ErrorInvalidRecipients", "At least one recipient isn't valid., Recipient '%s' is not resolved.", addr)
			}
			m.To = append(m.To, addr)
		}
	}
	t.sentMail = append(t.sentMail, m)
	return &response{status: http.StatusAccepted, header: http.Header{}}, nil
}

// SentMail returns the messages the tenant's mailboxes sent, oldest first.
func (s *Server) SentMail(tenantID string) []SentMail {
	t := s.tenant(tenantID)
	if t == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]SentMail, len(t.sentMail))
	for i, m := range t.sentMail {
		m.To = append([]string(nil), m.To...)
		m.Parts = append([]MailPart(nil), m.Parts...)
		out[i] = m
	}
	return out
}
