package graph

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/rostersync/rostersync/internal/classplan"
)

// Answers of FindClass beside success and failures to reach Graph.
var (
	// ErrNoSuchObject: no group of the tenant has that id, email address
	// or mailNickname.
	ErrNoSuchObject = errors.New("no such object in the tenant")
	// ErrNotAClass: the group exists but is not an education class (a
	// plain Microsoft 365 group cannot carry a class team).
	ErrNotAClass = errors.New("the group is not an education class")
	// ErrAmbiguous: more than one group answers to the name.
	ErrAmbiguous = errors.New("more than one group answers to it")
)

// GroupRef is a group as a lookup found it.
type GroupRef struct {
	ID           string `json:"id"`
	DisplayName  string `json:"displayName"`
	MailNickname string `json:"mailNickname"`
	Mail         string `json:"mail"`
}

const groupRefSelect = "$select=id,displayName,mailNickname,mail"

// FindClass finds the education class ref names, as a match file's row
// gives it: the group's object id, its email address (mail) or its
// mailNickname. A group found that is not an education class is
// ErrNotAClass; on a tenant whose education API refuses it is
// classplan.ErrNotEducation. Reads only: a group by id (or a $filter on mail
// or mailNickname), then GET /education/classes/{id}.
func (c *Client) FindClass(ctx context.Context, ref string) (GroupRef, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" || strings.ContainsAny(ref, "/?#\\") {
		return GroupRef{}, ErrNoSuchObject
	}
	base := c.adapter.GetBaseUrl()
	var g GroupRef
	var err error
	if strings.Contains(ref, "@") {
		g, err = c.groupWhere(ctx, "mail", ref)
	} else {
		// An id first; Graph answers a name on the id path with 404 or
		// 400 (not an object identifier), and then it is a mailNickname.
		status, gerr := c.getJSONStatus(ctx, base+"/groups/"+url.PathEscape(ref)+"?"+groupRefSelect, &g)
		switch {
		case gerr == nil:
		case status == http.StatusNotFound || status == http.StatusBadRequest:
			g, err = c.groupWhere(ctx, "mailNickname", ref)
		default:
			return GroupRef{}, fmt.Errorf("look up group %s in tenant %s: %w", ref, c.tenantID, gerr)
		}
	}
	if err != nil {
		return GroupRef{}, err
	}
	var class struct {
		ID string `json:"id"`
	}
	status, err := c.getJSONStatus(ctx, base+"/education/classes/"+url.PathEscape(g.ID)+"?$select=id", &class)
	switch {
	case err == nil:
		return g, nil
	case status == http.StatusNotFound:
		return g, ErrNotAClass
	case status == http.StatusBadRequest || status == http.StatusForbidden:
		return g, fmt.Errorf("%w: tenant %s: the education API refused: %v", classplan.ErrNotEducation, c.tenantID, err)
	}
	return g, fmt.Errorf("look up class %s in tenant %s: %w", g.ID, c.tenantID, err)
}

// groupWhere finds the one group whose prop equals value.
func (c *Client) groupWhere(ctx context.Context, prop, value string) (GroupRef, error) {
	filter := prop + " eq '" + strings.ReplaceAll(value, "'", "''") + "'"
	var page struct {
		Value []GroupRef `json:"value"`
	}
	u := c.adapter.GetBaseUrl() + "/groups?$filter=" + url.QueryEscape(filter) + "&" + groupRefSelect + "&$top=2"
	if _, err := c.getJSONStatus(ctx, u, &page); err != nil {
		return GroupRef{}, fmt.Errorf("look up the group whose %s is given in tenant %s: %w", prop, c.tenantID, err)
	}
	switch len(page.Value) {
	case 0:
		return GroupRef{}, ErrNoSuchObject
	case 1:
		return page.Value[0], nil
	}
	return GroupRef{}, ErrAmbiguous
}
