package graph

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/microsoftgraph/msgraph-sdk-go/users"
)

// UserExists says whether the tenant holds a user whose object id is
// objectID, reading nothing but the id. Graph also finds a user by its
// userPrincipalName on this path; that is not an object id, so it answers
// false. A 404 is false; other failures are errors.
func (c *Client) UserExists(ctx context.Context, objectID string) (bool, error) {
	if objectID == "" || strings.ContainsAny(objectID, "/?#") {
		return false, nil
	}
	u, err := c.sdk.Users().ByUserId(objectID).Get(ctx, &users.UserItemRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.UserItemRequestBuilderGetQueryParameters{Select: []string{"id"}},
	})
	if err != nil {
		var api interface{ GetStatusCode() int }
		if errors.As(err, &api) && api.GetStatusCode() == http.StatusNotFound {
			return false, nil
		}
		return false, fmt.Errorf("look up user %s in tenant %s: %w", objectID, c.tenantID, classify(err))
	}
	return u != nil && strings.EqualFold(deref(u.GetId()), objectID), nil
}
