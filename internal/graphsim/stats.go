package graphsim

import (
	"encoding/json"
	"net/http"
	"sort"
	"sync"
)

// Stats are one tenant's counters since the server started.
type Stats struct {
	TenantID string `json:"tenantId"`
	// Requests counts requests (and $batch items) by "METHOD kind", e.g.
	// "POST users" or "GET groups"; kinds are users, groups, directory,
	// education, teams, events.
	Requests map[string]int64 `json:"requests"`
	// Writes counts non-GET requests that were admitted.
	Writes int64 `json:"writes"`
	// ResourceUnits sums the identity resource units charged.
	ResourceUnits int64 `json:"resourceUnits"`
	// Throttled counts 429 answers; ThrottledByKind splits them like Requests.
	Throttled       int64            `json:"throttled"`
	ThrottledByKind map[string]int64 `json:"throttledByKind"`
	Batches         int64            `json:"batches"`
	// HTTPRequests counts authenticated HTTP requests: a $batch is one,
	// where Requests counts each of its items.
	HTTPRequests int64 `json:"httpRequests"`
}

type tenantStats struct {
	mu sync.Mutex
	s  Stats
}

func newTenantStats() *tenantStats {
	return &tenantStats{s: Stats{Requests: map[string]int64{}, ThrottledByKind: map[string]int64{}}}
}

func (ts *tenantStats) record(method string, c cost, ru int, throttled bool) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	key := method + " " + c.kind
	ts.s.Requests[key]++
	if throttled {
		ts.s.Throttled++
		ts.s.ThrottledByKind[key]++
		return
	}
	if method != http.MethodGet {
		ts.s.Writes++
	}
	ts.s.ResourceUnits += int64(ru)
}

func (ts *tenantStats) httpRequest() {
	ts.mu.Lock()
	ts.s.HTTPRequests++
	ts.mu.Unlock()
}

func (ts *tenantStats) batch() {
	ts.mu.Lock()
	ts.s.Batches++
	ts.mu.Unlock()
}

func (ts *tenantStats) snapshot() Stats {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	out := ts.s
	out.Requests = make(map[string]int64, len(ts.s.Requests))
	for k, v := range ts.s.Requests {
		out.Requests[k] = v
	}
	out.ThrottledByKind = make(map[string]int64, len(ts.s.ThrottledByKind))
	for k, v := range ts.s.ThrottledByKind {
		out.ThrottledByKind[k] = v
	}
	return out
}

// Stats returns a tenant's counters; ok is false for an unknown tenant.
func (s *Server) Stats(tenantID string) (Stats, bool) {
	t := s.tenant(tenantID)
	if t == nil {
		return Stats{}, false
	}
	st := t.stats.snapshot()
	st.TenantID = t.id
	return st, true
}

// serveStats is GET /_sim/stats[?tenant=ID]: every tenant's counters, for
// benchmarks driving a standalone simulator. It needs no token.
func (s *Server) serveStats(w http.ResponseWriter, r *http.Request) {
	var out []Stats
	ids := s.TenantIDs()
	if want := r.URL.Query().Get("tenant"); want != "" {
		ids = []string{want}
	}
	for _, id := range ids {
		if st, ok := s.Stats(id); ok {
			out = append(out, st)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].TenantID < out[j].TenantID })
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"tenants": nonNilStats(out)})
}

func nonNilStats(v []Stats) []Stats {
	if v == nil {
		return []Stats{}
	}
	return v
}
