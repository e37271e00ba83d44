package graph

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"

	abs "github.com/microsoft/kiota-abstractions-go"
)

// Mail is one email sent with SendMail: an HTML body with its plain-text
// alternative.
type Mail struct {
	To      []string
	Subject string
	HTML    string
	Text    string
}

// SendMail sends m from the mailbox sender (a user id or
// userPrincipalName in this client's tenant) through
// POST /users/{sender}/sendMail in its MIME form
// (https://learn.microsoft.com/en-us/graph/api/user-sendmail, "Send a new
// message using MIME format": Content-Type text/plain, the whole RFC 5322
// message base64-encoded), because the JSON form carries one body and the
// summary is HTML with a plain-text part: a multipart/alternative message.
// Graph answers 202 Accepted and saves the message to Sent Items; delivery
// happens later. The app needs the Mail.Send application permission in
// this tenant, which is why the summary's client is the vendor's own
// single-tenant app, never a customer's.
func (c *Client) SendMail(ctx context.Context, sender string, m Mail) error {
	raw, err := mimeMessage(m)
	if err != nil {
		return fmt.Errorf("send mail from %s in tenant %s: %w", sender, c.tenantID, err)
	}
	body := make([]byte, base64.StdEncoding.EncodedLen(len(raw)))
	base64.StdEncoding.Encode(body, raw)

	ri := abs.NewRequestInformation()
	ri.Method = abs.POST
	ri.UrlTemplate = "{+baseurl}/users/{id}/sendMail"
	ri.PathParameters["baseurl"] = c.adapter.GetBaseUrl()
	ri.PathParameters["id"] = sender
	ri.SetStreamContentAndContentType(body, "text/plain")
	status, answer, err := c.send(ctx, ri, 1<<20)
	if err != nil {
		return fmt.Errorf("send mail from %s in tenant %s: %w", sender, c.tenantID, err)
	}
	if status < 200 || status > 299 {
		ge := parseGraphError(answer)
		return fmt.Errorf("send mail from %s in tenant %s: status %d %s: %s", sender, c.tenantID, status, ge.Code, ge.Message)
	}
	return nil
}

// mimeMessage is m as an RFC 5322 message: To, Subject (RFC 2047 encoded
// when not plain ASCII, so a line break in it cannot start a header),
// MIME-Version and a multipart/alternative body, the plain text first and
// the HTML last (RFC 2046: the preferred part comes last), each UTF-8 and
// quoted-printable (whose writer ends text lines CRLF, as RFC 5322 wants). No From: Exchange sends as the mailbox addressed.
func mimeMessage(m Mail) ([]byte, error) {
	if len(m.To) == 0 {
		return nil, errors.New("no recipients")
	}
	to := make([]string, 0, len(m.To))
	for _, a := range m.To {
		addr, err := mail.ParseAddress(a)
		if err != nil {
			return nil, fmt.Errorf("recipient %q: %w", a, err)
		}
		to = append(to, addr.String())
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fmt.Fprintf(&buf, "To: %s\r\n", strings.Join(to, ", "))
	fmt.Fprintf(&buf, "Subject: %s\r\n", mime.QEncoding.Encode("utf-8", m.Subject))
	buf.WriteString("MIME-Version: 1.0\r\n")
	fmt.Fprintf(&buf, "Content-Type: %s\r\n\r\n", mime.FormatMediaType("multipart/alternative", map[string]string{"boundary": mw.Boundary()}))
	for _, p := range []struct{ typ, content string }{{"text/plain", m.Text}, {"text/html", m.HTML}} {
		h := textproto.MIMEHeader{}
		h.Set("Content-Type", p.typ+"; charset=utf-8")
		h.Set("Content-Transfer-Encoding", "quoted-printable")
		pw, err := mw.CreatePart(h)
		if err != nil {
			return nil, fmt.Errorf("mime part %s: %w", p.typ, err)
		}
		qw := quotedprintable.NewWriter(pw)
		if _, err := io.WriteString(qw, p.content); err != nil {
			return nil, fmt.Errorf("mime part %s: %w", p.typ, err)
		}
		if err := qw.Close(); err != nil {
			return nil, fmt.Errorf("mime part %s: %w", p.typ, err)
		}
	}
	if err := mw.Close(); err != nil {
		return nil, fmt.Errorf("mime message: %w", err)
	}
	return buf.Bytes(), nil
}
