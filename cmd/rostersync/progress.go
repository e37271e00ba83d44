package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/rostersync/rostersync/internal/runs"
)

// progressView shows a running sync's progress, entity by entity, on
// stderr: on a terminal one line redrawn in place (\r) with a bar, each
// entity's last state left on its own line when it ends; elsewhere (a log
// file, a pipe, CI) plain lines, one per entity when it has moved and at
// most every `every`, and one when it ends. It never writes to stdout,
// which carries the result alone.
type progressView struct {
	w        io.Writer
	terminal bool
	// every spaces a plain view's lines of one entity.
	every time.Duration

	mu sync.Mutex
	// shown is the last line written per entity, printedAt when; ended
	// the entities whose final line is out; open marks a terminal line
	// being redrawn (no newline yet).
	shown     map[string]string
	printedAt map[string]time.Time
	ended     map[string]bool
	open      bool
}

// plainEvery is how often a plain view reports an entity that keeps moving.
const plainEvery = 10 * time.Second

func newProgressView(w io.Writer, getenv func(string) string) *progressView {
	return &progressView{w: w, terminal: isTerminal(w) && getenv("TERM") != "dumb", every: plainEvery}
}

// isTerminal reports whether w is a character device (a terminal; also
// /dev/null, where a redrawn line costs nothing).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// show draws the run as it stands at now.
func (v *progressView) show(r runs.Run, now time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.shown == nil {
		v.shown, v.printedAt, v.ended = map[string]string{}, map[string]time.Time{}, map[string]bool{}
	}
	if v.terminal {
		v.drawTerminal(r, now)
		return
	}
	for _, e := range r.Entities {
		if v.ended[e.Entity] || e.Status == runs.StatusQueued {
			continue
		}
		line := progressLine(r.Mode, e, now)
		final := e.Status.Done()
		moved := line != v.shown[e.Entity]
		due := now.Sub(v.printedAt[e.Entity]) >= v.every
		if final || (moved && due) {
			fmt.Fprintf(v.w, "progress: %s\n", line)
			v.shown[e.Entity], v.printedAt[e.Entity], v.ended[e.Entity] = line, now, final
		}
	}
}

// drawTerminal leaves each entity that ended on a line of its own and
// redraws the running one's.
func (v *progressView) drawTerminal(r runs.Run, now time.Time) {
	for _, e := range r.Entities {
		if v.ended[e.Entity] {
			continue
		}
		if e.Status == runs.StatusQueued {
			return // the ones after it have not started either
		}
		line := progressBar(e) + "  " + progressLine(r.Mode, e, now)
		if !e.Status.Done() && line == v.shown[e.Entity] {
			return // nothing new to draw
		}
		// \x1b[K clears what a longer earlier line left on the right.
		fmt.Fprintf(v.w, "\r%s\x1b[K", line)
		v.shown[e.Entity], v.open = line, true
		if !e.Status.Done() {
			return
		}
		fmt.Fprintln(v.w)
		v.open, v.ended[e.Entity] = false, true
	}
}

// finish ends a terminal's open line.
func (v *progressView) finish() {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.open {
		fmt.Fprintln(v.w)
		v.open = false
	}
}

const barWidth = 24

// progressBar is a fixed-width bar of the entity's finished operations.
func progressBar(e runs.EntityRun) string {
	filled := 0
	if p := e.Progress; p != nil && p.Total > 0 {
		filled = min(barWidth*p.Done/p.Total, barWidth)
	} else if p != nil && e.Status.Done() {
		filled = barWidth // nothing to do, and done
	}
	return "[" + strings.Repeat("#", filled) + strings.Repeat(".", barWidth-filled) + "]"
}

// progressLine says where an entity stands, in words and figures: its
// status, operations finished of planned, pace, throttling and the time
// left (or, for a simulation, what it would do).
func progressLine(mode string, e runs.EntityRun, now time.Time) string {
	parts := []string{e.Entity + " " + string(e.Status)}
	p := e.Progress
	switch {
	case p == nil && !e.Status.Done():
		parts = append(parts, "planning")
	case p == nil:
	case mode == runs.ModeSimulate:
		parts = append(parts, fmt.Sprintf("%d operations planned (simulation: nothing written)", p.Total))
	default:
		ops := fmt.Sprintf("%d/%d operations", p.Done, p.Total)
		if p.Total > 0 {
			ops += fmt.Sprintf(" (%d%%)", 100*p.Done/p.Total)
		}
		parts = append(parts, ops)
		if !e.Status.Done() {
			parts = append(parts, fmt.Sprintf("%.1f writes/s", p.WritesPerSecond))
		}
		if p.Throttled > 0 {
			parts = append(parts, fmt.Sprintf("%d throttled (%s waited)", p.Throttled, (time.Duration(p.ThrottledWaitMs)*time.Millisecond).Round(100*time.Millisecond)))
		}
		if left := p.EstimatedEnd.Sub(now); !e.Status.Done() && !p.EstimatedEnd.IsZero() && p.Done < p.Total {
			parts = append(parts, fmt.Sprintf("about %s left", max(left, 0).Round(time.Second)))
		}
	}
	return strings.Join(parts, ", ")
}

// watchRun shows the run's record every `every` until stop is called;
// stop waits for the last look to end. Read errors are skipped: the next
// look tries again, and the result does not depend on them.
func watchRun(ctx context.Context, get func(ctx context.Context) (runs.Run, error), every time.Duration, show func(runs.Run)) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			if r, err := get(ctx); err == nil {
				show(r)
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}
