package graphsim

import (
	"encoding/json"
	"net/http"
	"strings"
)

// serveAdmin answers the simulator's own endpoints under /_sim/, which no
// Graph client calls: stats, export and live seeding for benchmarks and
// the CLI. They need no token.
func (s *Server) serveAdmin(w http.ResponseWriter, r *http.Request) bool {
	switch r.URL.Path {
	case "/_sim/stats":
		s.serveStats(w, r)
	case "/_sim/export":
		if r.Method != http.MethodGet {
			http.Error(w, "GET only", http.StatusMethodNotAllowed)
			return true
		}
		st := s.Export()
		if id := r.URL.Query().Get("tenant"); id != "" {
			ts, ok := s.ExportTenant(id)
			if !ok {
				http.Error(w, "unknown tenant "+id, http.StatusNotFound)
				return true
			}
			st.Tenants = []TenantState{ts}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = WriteState(w, st)
	case "/_sim/tenants":
		if r.Method != http.MethodPost {
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return true
		}
		st, err := DecodeState(http.MaxBytesReader(w, r.Body, 256<<20))
		if err == nil {
			err = s.Load(st)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return true
		}
		ids := make([]string, 0, len(st.Tenants))
		for _, t := range st.Tenants {
			ids = append(ids, strings.ToLower(t.ID))
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"loaded": ids})
	default:
		return false
	}
	return true
}
