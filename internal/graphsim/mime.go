package graphsim

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/http"
	"net/mail"
	"strings"
)

// sendMail's MIME form (https://learn.microsoft.com/en-us/graph/api/user-sendmail,
// "Send a new message using MIME format"): the request body is the whole
// RFC 5322 message, headers and MIME content, base64-encoded. Graph
// answers a body that is not base64 with 400 ErrorMimeContentInvalidBase64String
// (the doc's example); a message that decodes but does not parse gets
// ErrorMimeContentInvalid here (the simulator's choice of code).

const (
	codeMIMEBase64  = "ErrorMimeContentInvalidBase64String"
	codeMIMEInvalid = "ErrorMimeContentInvalid"
	// maxMIMEDepth bounds nested multiparts (alternative inside mixed
	// inside related is three).
	maxMIMEDepth = 5
)

func invalidMIME(format string, args ...any) *apiError {
	return errf(http.StatusBadRequest, codeMIMEInvalid, format, args...)
}

// parseMIMEMail decodes a MIME-form body into a SentMail without From,
// SentAt and SaveToSentItems.
func parseMIMEMail(body []byte) (SentMail, *apiError) {
	// Line breaks inside the base64 text are tolerated, as by .NET's
	// Convert.FromBase64String; anything else not base64 is refused.
	compact := bytes.Map(func(r rune) rune {
		if r == '\r' || r == '\n' || r == ' ' || r == '\t' {
			return -1
		}
		return r
	}, body)
	if len(compact) == 0 {
		return SentMail{}, errf(http.StatusBadRequest, codeMIMEBase64, "Invalid base64 string for MIME content.")
	}
	raw := make([]byte, base64.StdEncoding.DecodedLen(len(compact)))
	n, err := base64.StdEncoding.Decode(raw, compact)
	if err != nil {
		return SentMail{}, errf(http.StatusBadRequest, codeMIMEBase64, "Invalid base64 string for MIME content.")
	}
	msg, err := mail.ReadMessage(bytes.NewReader(raw[:n]))
	if err != nil {
		return SentMail{}, invalidMIME("The MIME content is not a valid message: %v", err)
	}
	var dec mime.WordDecoder
	m := SentMail{MIME: true}
	if m.Subject, err = dec.DecodeHeader(msg.Header.Get("Subject")); err != nil {
		return SentMail{}, invalidMIME("The Subject header is not valid: %v", err)
	}
	for _, h := range []string{"To", "Cc", "Bcc"} {
		if msg.Header.Get(h) == "" {
			continue
		}
		list, err := msg.Header.AddressList(h)
		if err != nil {
			return SentMail{}, errf(http.StatusBadRequest, "ErrorInvalidRecipients", "At least one recipient isn't valid., %s: %v", h, err)
		}
		for _, a := range list {
			m.To = append(m.To, a.Address)
		}
	}
	if len(m.To) == 0 {
		return SentMail{}, errf(http.StatusBadRequest, "ErrorInvalidRecipients", "At least one recipient isn't valid., A message can't be sent because it contains no recipients.")
	}
	if m.Parts, err = mimeParts(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body, 0); err != nil {
		return SentMail{}, invalidMIME("The MIME content is not valid: %v", err)
	}
	// The body Outlook shows: the HTML part, else the first text part.
	for _, p := range m.Parts {
		switch {
		case p.ContentType == "text/html":
			m.ContentType, m.Content = "html", p.Content
		case p.ContentType == "text/plain" && m.ContentType == "":
			m.ContentType, m.Content = "text", p.Content
		}
	}
	return m, nil
}

// mimeParts returns the leaf parts of an entity with Content-Type ct and
// Content-Transfer-Encoding cte (RFC 2045: text/plain, 7bit when absent).
func mimeParts(ct, cte string, body io.Reader, depth int) ([]MailPart, error) {
	if ct == "" {
		ct = "text/plain; charset=us-ascii"
	}
	typ, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return nil, fmt.Errorf("content type %q: %w", ct, err)
	}
	if strings.HasPrefix(typ, "multipart/") {
		if depth >= maxMIMEDepth {
			return nil, errors.New("multiparts nested too deep")
		}
		if params["boundary"] == "" {
			return nil, fmt.Errorf("%s without a boundary", typ)
		}
		var out []MailPart
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %w", typ, err)
			}
			sub, err := mimeParts(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, sub...)
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("%s with no parts", typ)
		}
		return out, nil
	}
	content, err := decodeTransfer(cte, body)
	if err != nil {
		return nil, fmt.Errorf("%s part: %w", typ, err)
	}
	return []MailPart{{ContentType: typ, Charset: strings.ToLower(params["charset"]), Content: string(content)}}, nil
}

// decodeTransfer undoes a Content-Transfer-Encoding.
func decodeTransfer(cte string, body io.Reader) ([]byte, error) {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "", "7bit", "8bit", "binary":
		return io.ReadAll(body)
	case "quoted-printable":
		return io.ReadAll(quotedprintable.NewReader(body))
	case "base64":
		// base64.NewDecoder skips the \r and \n of wrapped lines.
		return io.ReadAll(base64.NewDecoder(base64.StdEncoding, body))
	default:
		return nil, fmt.Errorf("unknown transfer encoding %q", cte)
	}
}
