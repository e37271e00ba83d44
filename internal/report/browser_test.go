package report

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/rostersync/rostersync/internal/report/reporttest"
)

// TestReportInBrowser renders a report in headless Chromium, served as the
// API serves it (its policy as a header too): it runs without a console
// error (a hostile name that became markup would be refused by the policy
// and logged), the chart draws one point per sample, and the filters and
// the search change which rows show.
func TestReportInBrowser(t *testing.T) {
	const samples = 6
	var page bytes.Buffer
	if err := Render(&page, sampleInput(samples)); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r) // a request for anything else is a page that is not self-contained
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", ContentSecurityPolicy)
		_, _ = w.Write(page.Bytes())
	}))
	defer srv.Close()
	p := reporttest.Open(t, srv.URL+"/")

	if got := p.Points(); got != samples {
		t.Errorf("chart draws %d points, want %d (one per sample)", got, samples)
	}
	// The script ran: it shows the filters and counts the rows.
	if got := p.Visible("#rs-filters"); got != 1 {
		t.Errorf("filters visible = %d, want 1 (the page's script did not run)", got)
	}
	steps := []struct {
		name          string
		do            func()
		changes, left int
	}{
		{"everything", func() {}, 5, 2},
		{"creates", func() { p.FilterAction("create") }, 2, 2},
		{"suspends", func() { p.FilterAction("suspend") }, 1, 2},
		{"all actions again", func() { p.FilterAction("") }, 5, 2},
		{"held only", func() { p.HeldOnly(true) }, 1, 2},
		{"held box cleared", func() { p.HeldOnly(false) }, 5, 2},
		{"a person by name, any case", func() { p.Search("NIAMH") }, 1, 0},
		{"a person by sourcedId", func() { p.Search("s-003") }, 1, 0},
		{"a person by principal name", func() { p.Search("x@oakfield") }, 1, 0},
		{"an unsynced person", func() { p.Search("s-102") }, 0, 1},
		{"a name with markup, as text", func() { p.Search(`<script>`) }, 1, 0},
		{"search and action together", func() { p.FilterAction("update"); p.Search("niamh") }, 0, 0},
		{"nobody", func() { p.FilterAction(""); p.Search("zzz-nobody") }, 0, 0},
		{"search cleared", func() { p.Search("") }, 5, 2},
	}
	for _, s := range steps {
		s.do()
		if got, left := p.Changes(), p.Unsynced(); got != s.changes || left != s.left {
			t.Errorf("%s: %d changes and %d unsynced visible, want %d and %d", s.name, got, left, s.changes, s.left)
		}
	}
	if problems := p.Problems(); len(problems) > 0 {
		t.Errorf("the page wrote errors to the console:\n%v", problems)
	}
}

// TestBrowserSeesConsoleErrors shows the browser check is not a formality:
// a page whose script throws, or that loads something its policy forbids,
// is reported.
func TestBrowserSeesConsoleErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", ContentSecurityPolicy)
		_, _ = w.Write([]byte(`<!DOCTYPE html><title>t</title><link rel="icon" href="data:,"><img src="https://example.invalid/x.png"><script>throw new Error("boom")</script>`))
	}))
	defer srv.Close()
	p := reporttest.Open(t, srv.URL+"/")
	if got := p.Problems(); len(got) < 2 {
		t.Errorf("Problems() = %q, want the refused image and the refused script", got)
	}
}
