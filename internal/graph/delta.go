package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// deltaCursor is what a snapshot read through a delta query keeps for the
// next read: the round's deltaLink and the query it was made with (a
// deltaLink carries its $select in the token).
type deltaCursor struct {
	Query     string `json:"q"`
	DeltaLink string `json:"link"`
}

// errResync: a delta round from a stored link cannot go on; read the
// whole tenant instead.
var errResync = errors.New("delta must start again")

// encode is the cursor as the snapshot cache keeps it; "" without a link.
func (dc deltaCursor) encode() string {
	if dc.DeltaLink == "" {
		return ""
	}
	b, _ := json.Marshal(dc) // two strings cannot fail to encode
	return string(b)
}

// usableCursor returns the cursor's deltaLink when it was made with query
// against this client's Graph's path (e.g. "/users/delta").
func (c *Client) usableCursor(cursor, query, path string) (string, bool) {
	var dc deltaCursor
	if cursor == "" || json.Unmarshal([]byte(cursor), &dc) != nil || dc.Query != query {
		return "", false
	}
	return dc.DeltaLink, strings.HasPrefix(dc.DeltaLink, c.adapter.GetBaseUrl()+path+"?")
}

// deltaRound pages a delta round of what ("users", "groups") from first,
// handing each item to merge, and returns the round's deltaLink. An
// incremental round (from a stored link) that cannot go on says
// errResync: the token expired (410 Gone), a page would not decode, or an
// item would not merge. Either way only a full read is sure.
func (c *Client) deltaRound(ctx context.Context, what, first string, incremental bool, merge func(json.RawMessage) error) (string, error) {
	next, deltaLink := first, ""
	for pages := 0; next != ""; pages++ {
		if pages > 100000 {
			return "", fmt.Errorf("snapshot of tenant %s %s: too many pages", c.tenantID, what)
		}
		var page struct {
			Value     []json.RawMessage `json:"value"`
			NextLink  string            `json:"@odata.nextLink"`
			DeltaLink string            `json:"@odata.deltaLink"`
		}
		status, err := c.getJSONStatus(ctx, next, &page)
		if err != nil {
			if incremental && (status == http.StatusGone || status/100 == 2) {
				return "", fmt.Errorf("%w: %w", errResync, err)
			}
			return "", fmt.Errorf("snapshot of tenant %s: %s delta: %w", c.tenantID, what, err)
		}
		for _, raw := range page.Value {
			if err := merge(raw); err != nil {
				if incremental {
					return "", fmt.Errorf("%w: %w", errResync, err)
				}
				return "", fmt.Errorf("snapshot of tenant %s: %w", c.tenantID, err)
			}
		}
		next, deltaLink = page.NextLink, page.DeltaLink
	}
	return deltaLink, nil
}
