package e2e

import (
	"net/http"
	"sync/atomic"

	"github.com/rostersync/rostersync/internal/graphsim"
)

// countingHandler counts HTTP requests (a $batch counts once).
type countingHandler struct {
	n *atomic.Int64
	h *graphsim.Server
}

func (c *countingHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.n.Add(1)
	c.h.ServeHTTP(w, r)
}
