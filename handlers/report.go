package handlers

import (
	"bytes"
	"net/http"
	"time"

	"github.com/rostersync/rostersync/internal/report"
)

// runReport answers the run's report: one self-contained HTML page (see
// internal/report) the vendor's UI can show or embed, or the admin save.
func (a *API) runReport(w http.ResponseWriter, r *http.Request) {
	customer, id := r.PathValue("customer"), r.PathValue("run")
	in, err := report.Load(r.Context(), a.store, customer, id, time.Now())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	// Rendered whole before answering, so a failure is still a problem
	// document rather than half a page.
	var b bytes.Buffer
	if err := report.Render(&b, in); err != nil {
		a.fail(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", report.ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	// It names pupils: no shared cache keeps it.
	h.Set("Cache-Control", "private, no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b.Bytes())
}
