package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	abs "github.com/microsoft/kiota-abstractions-go"
)

// maxReadResponse bounds one page read.
const maxReadResponse = 64 << 20

// send sends a request through the adapter (authentication, the SDK's
// retry middleware) and reads the answer itself: its status and at most
// limit bytes of its body, whatever the status. The SDK's typed models
// stop where Graph's shapes go beyond them (delta's @removed and
// members@delta, a 202's Location, MIME mail), so those calls come here.
func (c *Client) send(ctx context.Context, ri *abs.RequestInformation, limit int64) (int, []byte, error) {
	var (
		status  int
		body    []byte
		readErr error
	)
	handler := abs.NewRequestHandlerOption()
	handler.SetResponseHandler(func(r any, _ abs.ErrorMappings) (any, error) {
		resp, ok := r.(*http.Response)
		if !ok || resp == nil {
			readErr = errors.New("no HTTP response")
			return nil, nil
		}
		defer resp.Body.Close()
		status = resp.StatusCode
		body, readErr = io.ReadAll(io.LimitReader(resp.Body, limit))
		return nil, nil
	})
	ri.AddRequestOptions([]abs.RequestOption{handler})
	if err := c.adapter.SendNoContent(ctx, ri, nil); err != nil {
		return 0, nil, err
	}
	return status, body, readErr
}

// getJSONStatus GETs an absolute Graph URL (a first page or a nextLink) and
// decodes a 2xx answer into out; any other answer is an error carrying
// Graph's code and message, with the status beside it.
func (c *Client) getJSONStatus(ctx context.Context, rawURL string, out any) (int, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return 0, fmt.Errorf("page link: %w", err)
	}
	ri := abs.NewRequestInformation()
	ri.Method = abs.GET
	ri.SetUri(*u)
	ri.Headers.TryAdd("Accept", "application/json")
	status, body, err := c.send(ctx, ri, maxReadResponse)
	if err != nil {
		return 0, err
	}
	if status < 200 || status > 299 {
		ge := parseGraphError(body)
		return status, fmt.Errorf("status %d %s: %s", status, ge.Code, ge.Message)
	}
	return status, json.Unmarshal(body, out)
}
