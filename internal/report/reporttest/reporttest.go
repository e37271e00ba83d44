// Package reporttest opens run reports in headless Chromium, for tests that
// check the page as a person would see it: what it writes to the console,
// how many points its charts draw, and which rows its filters leave
// visible. Only tests import it, so the product binary carries no browser
// driver.
package reporttest

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// browserNames are the commands tried on PATH, after CHROME_PATH.
var browserNames = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}

// ChromePath finds a Chromium-family browser: CHROME_PATH when set, else
// the first of chromium, chromium-browser, google-chrome and
// google-chrome-stable on PATH.
func ChromePath() (string, bool) {
	if p := os.Getenv("CHROME_PATH"); p != "" {
		if found, err := exec.LookPath(p); err == nil {
			return found, true
		}
		return "", false
	}
	for _, name := range browserNames {
		if found, err := exec.LookPath(name); err == nil {
			return found, true
		}
	}
	return "", false
}

// Page is a report open in a browser tab.
type Page struct {
	t   testing.TB
	ctx context.Context

	mu       sync.Mutex
	messages []chromedp.ConsoleMessage
}

// pageTimeout bounds everything one page does, start-up included: a
// cold Chromium on a busy two-core machine takes a few seconds.
const pageTimeout = 90 * time.Second

// Open starts headless Chromium and loads url (http:// or file://),
// collecting what the page writes to its console from the start. Without
// a browser the test is skipped, or failed when CI is set: CI installs
// one (.ci/run), and a browser test that silently skips there tests
// nothing.
func Open(t testing.TB, url string) *Page {
	t.Helper()
	path, ok := ChromePath()
	if !ok {
		what := "no browser found (CHROME_PATH, or " + strings.Join(browserNames, ", ") + " on PATH)"
		if os.Getenv("CI") != "" {
			t.Fatalf("%s, and CI is set: .ci/run installs Debian's chromium when it is missing", what)
		}
		t.Skipf("%s: install chromium or set CHROME_PATH to run this browser test", what)
	}
	ctx, cancel := context.WithTimeout(context.Background(), pageTimeout)
	t.Cleanup(cancel)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		// Tests run as root in CI, where Chromium's sandbox will not start.
		chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true),
		chromedp.WindowSize(1200, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	tab, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(cancelTab)
	p := &Page{t: t, ctx: tab}
	// The first Run starts the browser; only then can the console be
	// subscribed to, before the page loads.
	if err := chromedp.Do(tab, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start %s: %v", path, err)
	}
	listen, stop := context.WithCancel(tab)
	messages := chromedp.Console(listen)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			p.mu.Lock()
			p.messages = append(p.messages, m)
			p.mu.Unlock()
		}
	}()
	t.Cleanup(func() { stop(); <-done })
	if err := chromedp.Do(tab, chromedp.Navigate(url)); err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	return p
}

// Problems are the console's errors and uncaught exceptions so far
// (a script error, a refused load, a Content-Security-Policy violation).
func (p *Page) Problems() []string {
	p.t.Helper()
	// Messages arrive asynchronously: a round trip to the page lets the
	// ones already sent be read.
	p.Eval(`0`)
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, m := range p.messages {
		if m.Type == chromedp.ConsoleError || m.IsException() {
			out = append(out, m.String()+" ("+m.URL+")")
		}
	}
	return out
}

// Eval evaluates a JavaScript expression in the page and returns its
// value as a number (the questions these tests ask are counts).
func (p *Page) Eval(expr string) int {
	p.t.Helper()
	n, err := chromedp.Run(p.ctx, chromedp.Evaluate[int](expr))
	if err != nil {
		p.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return n
}

// Count is how many elements match a CSS selector.
func (p *Page) Count(selector string) int {
	p.t.Helper()
	return p.Eval(`document.querySelectorAll(` + jsString(selector) + `).length`)
}

// Visible is how many elements matching a CSS selector are rendered (not
// hidden by the page's filters).
func (p *Page) Visible(selector string) int {
	p.t.Helper()
	return p.Eval(`Array.from(document.querySelectorAll(` + jsString(selector) + `)).filter(e => e.getClientRects().length > 0).length`)
}

// Points is how many points the report's charts draw.
func (p *Page) Points() int { return p.Count("svg.rs-chart g.rs-pt") }

// Changes is how many rows of the plan are visible.
func (p *Page) Changes() int { return p.Visible("tr.rs-change") }

// Unsynced is how many rows of the unsynced list are visible.
func (p *Page) Unsynced() int { return p.Visible("tr.rs-unsynced") }

// FilterAction chooses an action in the plan's filter ("" for all), as a
// person picking it from the list would.
func (p *Page) FilterAction(action string) {
	p.t.Helper()
	p.choose("rs-action", action)
}

// HeldOnly ticks or clears the "held only" box by clicking it.
func (p *Page) HeldOnly(on bool) {
	p.t.Helper()
	checked := p.Eval(`document.getElementById("rs-held-only").checked ? 1 : 0`) == 1
	if checked == on {
		return
	}
	if err := chromedp.Do(p.ctx, chromedp.Click(chromedp.ID("rs-held-only"))); err != nil {
		p.t.Fatalf("click held only: %v", err)
	}
}

// Search types q into the search box, replacing what was there.
func (p *Page) Search(q string) {
	p.t.Helper()
	// chromedp.Clear sets the attribute, which a typed-in value
	// overrides, and SetValue cannot set an empty one: empty the property
	// as a person's delete key would.
	p.Eval(`(document.getElementById("rs-q").value = "", 0)`)
	p.dispatch("rs-q", "input")
	if q == "" {
		return
	}
	if err := chromedp.Do(p.ctx, chromedp.SendKeys(chromedp.ID("rs-q"), q)); err != nil {
		p.t.Fatalf("type %q into the search box: %v", q, err)
	}
}

// choose sets a select's value and fires the change event a person's
// choice fires.
func (p *Page) choose(id, value string) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, chromedp.SetValue(chromedp.ID(id), value)); err != nil {
		p.t.Fatalf("choose %q in #%s: %v", value, id, err)
	}
	p.dispatch(id, "change")
}

func (p *Page) dispatch(id, event string) {
	p.t.Helper()
	p.Eval(`(document.getElementById(` + jsString(id) + `).dispatchEvent(new Event(` + jsString(event) + `, {bubbles: true})), 0)`)
}

// jsString quotes s as a JavaScript string literal; the tests pass only
// their own constants.
func jsString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) + `"`
}
