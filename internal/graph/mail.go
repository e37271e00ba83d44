package graph

import (
	"context"
	"fmt"

	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/users"
)

// Mail is one HTML email sent with SendMail.
type Mail struct {
	To      []string
	Subject string
	HTML    string
}

// SendMail sends m from the mailbox sender (a user id or
// userPrincipalName in this client's tenant) through
// POST /users/{sender}/sendMail in its JSON form, which carries one body:
// the HTML. Graph answers 202 Accepted; delivery happens later. The app
// needs the Mail.Send application permission in this tenant, which is why
// the summary's client is the vendor's own single-tenant app, never a
// customer's.
func (c *Client) SendMail(ctx context.Context, sender string, m Mail) error {
	body := models.NewItemBody()
	html := models.HTML_BODYTYPE
	body.SetContentType(&html)
	body.SetContent(&m.HTML)
	msg := models.NewMessage()
	msg.SetSubject(&m.Subject)
	msg.SetBody(body)
	to := make([]models.Recipientable, 0, len(m.To))
	for _, addr := range m.To {
		ea := models.NewEmailAddress()
		ea.SetAddress(&addr)
		r := models.NewRecipient()
		r.SetEmailAddress(ea)
		to = append(to, r)
	}
	msg.SetToRecipients(to)
	req := users.NewItemSendMailPostRequestBody()
	req.SetMessage(msg)
	save := true
	req.SetSaveToSentItems(&save)
	if err := c.sdk.Users().ByUserId(sender).SendMail().Post(ctx, req, nil); err != nil {
		return fmt.Errorf("send mail from %s in tenant %s: %w", sender, c.tenantID, err)
	}
	return nil
}
