package graphsim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Remote reads and seeds a running simulator through its /_sim/
// endpoints, for tools that drive a standalone "rostersync graphsim".
type Remote struct {
	// BaseURL is the simulator's address, e.g. http://127.0.0.1:8990; a
	// trailing /v1.0 is ignored.
	BaseURL string
	// HTTP is the client to use; nil means http.DefaultClient.
	HTTP *http.Client
}

func (r Remote) base() string {
	return strings.TrimSuffix(strings.TrimRight(r.BaseURL, "/"), "/v1.0")
}

func (r Remote) do(ctx context.Context, method, path string, body []byte) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, r.base()+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	c := r.HTTP
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("simulator %s: %w", r.base(), err)
	}
	return resp, nil
}

func unexpected(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return fmt.Errorf("simulator %s %s: %s: %s", resp.Request.Method, resp.Request.URL.Path, resp.Status, strings.TrimSpace(string(b)))
}

// ExportTenant returns one tenant as GET /_sim/export shows it; found is
// false when the simulator has no such tenant.
func (r Remote) ExportTenant(ctx context.Context, id string) (ts TenantState, found bool, err error) {
	resp, err := r.do(ctx, http.MethodGet, "/_sim/export?tenant="+url.QueryEscape(id), nil)
	if err != nil {
		return TenantState{}, false, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		return TenantState{}, false, nil
	default:
		return TenantState{}, false, unexpected(resp)
	}
	st, err := DecodeState(resp.Body)
	if err != nil {
		return TenantState{}, false, err
	}
	if len(st.Tenants) != 1 {
		return TenantState{}, false, fmt.Errorf("simulator exported %d tenants for %q, want 1", len(st.Tenants), id)
	}
	return st.Tenants[0], true, nil
}

// Load adds (or replaces) tenants, as POST /_sim/tenants.
func (r Remote) Load(ctx context.Context, st State) error {
	var b bytes.Buffer
	if err := WriteState(&b, st); err != nil {
		return err
	}
	resp, err := r.do(ctx, http.MethodPost, "/_sim/tenants", b.Bytes())
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return unexpected(resp)
	}
	return nil
}

// Stats returns one tenant's counters, as GET /_sim/stats?tenant=ID.
func (r Remote) Stats(ctx context.Context, id string) (Stats, bool, error) {
	resp, err := r.do(ctx, http.MethodGet, "/_sim/stats?tenant="+url.QueryEscape(id), nil)
	if err != nil {
		return Stats{}, false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return Stats{}, false, unexpected(resp)
	}
	var out struct {
		Tenants []Stats `json:"tenants"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return Stats{}, false, fmt.Errorf("simulator stats: %w", err)
	}
	if len(out.Tenants) == 0 {
		return Stats{}, false, nil
	}
	return out.Tenants[0], true, nil
}
