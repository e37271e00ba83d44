package report

import (
	"fmt"
	"strings"
	"time"

	"github.com/rostersync/rostersync/internal/runs"
)

// The chart of one entity's run: one point per sample, placed by time.
// Per point, writes and throttled requests are bars against the left axis
// and the time waited on throttling is a line against the right one.
// Geometry is worked out here so the template only prints numbers.
const (
	chartW      = 720.0
	chartH      = 220.0
	chartLeft   = 52.0
	chartRight  = 60.0
	chartTop    = 14.0
	chartBottom = 30.0
	plotW       = chartW - chartLeft - chartRight
	plotH       = chartH - chartTop - chartBottom
)

type chart struct {
	Entity string
	W, H   float64
	// Plot area.
	X0, Y0, X1, Y1 float64
	Points         []point
	// WaitLine is the polyline of the wait series.
	WaitLine string
	// Axis labels: requests at the top of the left axis, seconds at the
	// top of the right one, and the run's span along the bottom.
	MaxRequests int
	MaxWait     string
	Span        string
	// Totals for the caption.
	Writes, Throttled int
	WaitMs            int64
	Done              int
}

type point struct {
	At        time.Time
	Writes    int
	Throttled int
	WaitMs    int64
	Done      int
	// Bars: x and width shared, heights and tops per series.
	BarX, BarW           float64
	WritesY, WritesH     float64
	ThrottleX            float64
	ThrottleY, ThrottleH float64
	// The wait series' marker.
	CX, CY float64
}

// buildChart lays out e's samples; false when it has none.
func buildChart(e runs.EntityRun) (chart, bool) {
	s := e.Samples
	if len(s) == 0 {
		return chart{}, false
	}
	c := chart{Entity: e.Entity, W: chartW, H: chartH, X0: chartLeft, Y0: chartTop, X1: chartLeft + plotW, Y1: chartTop + plotH}
	first, last := s[0].At, s[0].At
	maxReq, maxWait := 1, int64(1)
	for _, p := range s {
		if p.At.Before(first) {
			first = p.At
		}
		if p.At.After(last) {
			last = p.At
		}
		maxReq = max(maxReq, p.Writes, p.Throttled)
		maxWait = max(maxWait, p.WaitMs)
		c.Writes += p.Writes
		c.Throttled += p.Throttled
		c.WaitMs += p.WaitMs
		c.Done = max(c.Done, p.Done)
	}
	span := last.Sub(first)
	c.MaxRequests, c.MaxWait, c.Span = maxReq, fmt.Sprintf("%.1f s", float64(maxWait)/1000), spanText(span)
	// Bars a little narrower than the space each point has, within sense.
	barW := min(max(plotW/float64(len(s))*0.35, 1.5), 14)
	var line strings.Builder
	for i, p := range s {
		var x float64
		switch {
		case len(s) == 1:
			x = chartLeft + plotW/2
		case span <= 0:
			// All at one instant: spread them evenly rather than stack.
			x = chartLeft + barW + (plotW-2*barW)*float64(i)/float64(len(s)-1)
		default:
			x = chartLeft + barW + (plotW-2*barW)*float64(p.At.Sub(first))/float64(span)
		}
		pt := point{At: p.At, Writes: p.Writes, Throttled: p.Throttled, WaitMs: p.WaitMs, Done: p.Done,
			BarX: x - barW, BarW: barW, ThrottleX: x}
		pt.WritesH = barHeight(p.Writes, maxReq)
		pt.WritesY = chartTop + plotH - pt.WritesH
		pt.ThrottleH = barHeight(p.Throttled, maxReq)
		pt.ThrottleY = chartTop + plotH - pt.ThrottleH
		pt.CX, pt.CY = x, chartTop+plotH-plotH*float64(p.WaitMs)/float64(maxWait)
		if i > 0 {
			line.WriteByte(' ')
		}
		fmt.Fprintf(&line, "%.1f,%.1f", pt.CX, pt.CY)
		c.Points = append(c.Points, pt)
	}
	c.WaitLine = line.String()
	return c, true
}

// barHeight scales n against top; a non-zero value is never too thin to see.
func barHeight(n, top int) float64 {
	if n <= 0 {
		return 0
	}
	return max(plotH*float64(n)/float64(top), 1.5)
}

// spanText is a run's length as people read it: tenths of a second for a
// short one (a small school's night takes moments against the simulator),
// whole seconds otherwise.
func spanText(d time.Duration) string {
	if d < 10*time.Second {
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	return d.Round(time.Second).String()
}
