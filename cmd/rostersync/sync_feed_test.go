package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rostersync/rostersync/internal/oneroster"
	"github.com/rostersync/rostersync/internal/runs"
)

// syncJSON runs `rostersync sync --json` of feed into a fresh state folder
// with the extra flags, and returns the printed result and the error.
func syncJSON(t *testing.T, feed string, extra ...string) (syncSummary, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	args := append([]string{"sync", "--roster", feed, "--state", t.TempDir(), "--root", "../..", "--json"}, extra...)
	err := run(context.Background(), args, testEnv(&out, &errOut))
	var sum syncSummary
	if jerr := json.Unmarshal(out.Bytes(), &sum); jerr != nil {
		t.Fatalf("sync %q: %v; stdout is not the JSON result (%v): %s\nstderr: %s", extra, err, jerr, out.String(), errOut.String())
	}
	return sum, err
}

// sampleOn writes the small sample school `rostersync sample` writes on
// date: its school year is the one running then (the sample's default on
// that date, see oneroster.AcademicYear).
func sampleOn(t *testing.T, date string) string {
	t.Helper()
	d, err := time.Parse(time.DateOnly, date)
	if err != nil {
		t.Fatal(err)
	}
	feed := filepath.Join(t.TempDir(), "feed")
	var out, errOut bytes.Buffer
	args := []string{"sample", "--out", feed, "--students", "10", "--staff", "4", "--year", strconv.Itoa(oneroster.AcademicYear(d))}
	if err := run(context.Background(), args, testEnv(&out, &errOut)); err != nil {
		t.Fatalf("sample: %v %s", err, errOut.String())
	}
	return feed
}

// TestSyncFlagsRefused: bad --session, --today and --format values are
// usage errors (exit 2) naming the flag, before anything is opened.
func TestSyncFlagsRefused(t *testing.T) {
	tests := []struct {
		name string
		args []string
		flag string
	}{
		{"blank session", []string{"--session", ""}, "--session"},
		{"session padded", []string{"--session", " ay2026"}, "--session"},
		{"today empty", []string{"--today", ""}, "--today"},
		{"today not a date", []string{"--today", "tomorrow"}, "--today"},
		{"today day first", []string{"--today", "31/08/2026"}, "--today"},
		{"today no such day", []string{"--today", "2027-02-30"}, "--today"},
		{"today with time", []string{"--today", "2026-09-01T08:00:00Z"}, "--today"},
		{"format unknown", []string{"--format", "sds"}, "--format"},
		{"format case", []string{"--format", "SDS-V1"}, "--format"},
		{"format empty", []string{"--format", ""}, "--format"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			state := filepath.Join(t.TempDir(), "state")
			args := append([]string{"sync", "--roster", t.TempDir(), "--state", state, "--root", "../.."}, tt.args...)
			err := run(context.Background(), args, testEnv(&out, &errOut))
			if got := exitStatusOf(err); got != exitUsage {
				t.Fatalf("sync %q: exit %d (%v), want %d", tt.args, got, err, exitUsage)
			}
			if !strings.Contains(err.Error(), tt.flag) {
				t.Errorf("sync %q: error %q does not name %s", tt.args, err, tt.flag)
			}
		})
	}
}

// TestParseToday: the clock --today gives stands on that date at the
// current time of day, and runs on.
func TestParseToday(t *testing.T) {
	now := time.Date(2026, 11, 30, 5, 41, 45, 0, time.UTC)
	for _, date := range []string{"2026-08-31", "2026-09-01", "2027-02-15", "2026-11-30", "2024-02-29"} {
		clk, err := parseToday(date, now)
		if err != nil {
			t.Fatalf("parseToday(%s): %v", date, err)
		}
		got := clk.Now().UTC()
		if got.Format(time.DateOnly) != date {
			t.Errorf("--today %s: clock says %s", date, got)
		}
		// The wall clock moved on since now; the shifted one with it.
		if tod := got.Sub(got.Truncate(24 * time.Hour)); tod < 5*time.Hour+41*time.Minute {
			t.Errorf("--today %s: time of day %s, want now's (05:41:45) or later", date, tod)
		}
	}
	if clk, err := parseToday("", now); err != nil || time.Since(clk.Now()).Abs() > time.Minute {
		t.Errorf("no --today: clock %v, %v; want the wall clock", clk, err)
	}
}

// TestSampleSyncsOnAnyDate is the acceptance line `rostersync sample --out
// d && rostersync sync --roster d --state s` on dates either side of a
// school year's end: the sample written on a date (its school year the one
// running then) syncs everyone on that date. A sample of another school
// year creates nobody, so --today is what decides.
func TestSampleSyncsOnAnyDate(t *testing.T) {
	tests := []struct {
		sampleOn, today string
		wantCreates     bool
	}{
		{"2026-08-31", "2026-08-31", true},
		{"2026-09-01", "2026-09-01", true},
		{"2027-02-15", "2027-02-15", true},
		{"2026-09-01", "2026-08-31", false}, // next year's sample, the day before it starts
	}
	for _, tt := range tests {
		t.Run(tt.sampleOn+"/"+tt.today, func(t *testing.T) {
			sum, err := syncJSON(t, sampleOn(t, tt.sampleOn), "--today", tt.today)
			if !tt.wantCreates {
				if sum.Creates != 0 {
					t.Errorf("sync --today %s of the %s sample created %d accounts, want none", tt.today, tt.sampleOn, sum.Creates)
				}
				return
			}
			// 10 pupils and 4 staff: every pupil is on roll, so at least
			// 10 accounts (the silent failure is none, everyone unsynced).
			if err != nil || sum.Status != string(runs.StatusSucceeded) || sum.Creates < 10 || sum.Unsynced >= sum.Creates {
				t.Errorf("sync --today %s: %v; status %s, %d creates, %d unsynced (error %q); want the school's accounts created",
					tt.today, err, sum.Status, sum.Creates, sum.Unsynced, sum.Error)
			}
		})
	}
	t.Run("today", func(t *testing.T) {
		// The acceptance line as written: no --year, no --today.
		feed := filepath.Join(t.TempDir(), "feed")
		var out, errOut bytes.Buffer
		if err := run(context.Background(), []string{"sample", "--out", feed, "--students", "10", "--staff", "4"}, testEnv(&out, &errOut)); err != nil {
			t.Fatalf("sample: %v %s", err, errOut.String())
		}
		if sum, err := syncJSON(t, feed); err != nil || sum.Creates < 10 {
			t.Errorf("sync of today's sample: %v; %d creates (error %q), want at least the 10 pupils", err, sum.Creates, sum.Error)
		}
	})
}

// TestSyncSession: --session reaches the profile: a school year named
// syncs its people on a date outside it, and a session the feed lacks
// fails the run naming it.
func TestSyncSession(t *testing.T) {
	feed := sampleOn(t, "2026-09-01") // school year ay2026, 2026-09-01 to 2027-08-31
	inYear, err := syncJSON(t, feed, "--today", "2026-10-01")
	if err != nil || inYear.Creates < 10 {
		t.Fatalf("sync within the school year: %v; %d creates (error %q)", err, inYear.Creates, inYear.Error)
	}
	tests := []struct {
		name        string
		args        []string
		wantCreates int
		wantErr     string
	}{
		{"the date picks nothing", []string{"--today", "2030-01-15"}, 0, "2030-01-15"},
		{"the session named", []string{"--today", "2030-01-15", "--session", "ay2026"}, inYear.Creates, ""},
		{"a missing session", []string{"--session", "ay1999"}, 0, "ay1999"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sum, err := syncJSON(t, feed, tt.args...)
			if sum.Creates != tt.wantCreates {
				t.Errorf("sync %q: %d creates (status %s, error %q), want %d", tt.args, sum.Creates, sum.Status, sum.Error, tt.wantCreates)
			}
			if tt.wantCreates > 0 && err != nil {
				t.Errorf("sync %q: %v", tt.args, err)
			}
			if tt.wantErr != "" && (exitStatusOf(err) != exitFailed || !strings.Contains(sum.Error, tt.wantErr)) {
				t.Errorf("sync %q: exit %d, error %q; want a failed run naming %s", tt.args, exitStatusOf(err), sum.Error, tt.wantErr)
			}
		})
	}
}

// hintedFlag is the sync flag a "this looks like a School Data Sync
// export" message tells the user to give.
var hintedFlag = regexp.MustCompile(`sync (--format [^ ),;]+)`)

// TestSyncSDSFormat: SDS exports sync with --format (or detected without
// it), and read as OneRoster they fail with a hint naming the very flag
// that reads them, which then works.
func TestSyncSDSFormat(t *testing.T) {
	const today = "2026-01-10" // the fixtures' school year is 2025/26
	tests := []struct {
		fixture string
		format  string
		creates int // the fixture's people with accounts
	}{
		{"v1", "sds-v1", 3},
		{"v1-uk", "sds-v1", 2},
		{"v2.1", "sds-v2.1", 2}, // the lab technician has no school-level role
	}
	for _, tt := range tests {
		feed := filepath.Join("..", "..", "testdata", "sds", tt.fixture)
		t.Run(tt.fixture, func(t *testing.T) {
			for _, args := range [][]string{{"--format", tt.format}, nil} {
				sum, err := syncJSON(t, feed, append([]string{"--today", today}, args...)...)
				if err != nil || sum.Creates != tt.creates {
					t.Errorf("sync %q of the SDS %s fixture: %v; %d creates, %d unsynced (error %q); want %d creates", args, tt.fixture, err, sum.Creates, sum.Unsynced, sum.Error, tt.creates)
				}
			}
			sum, err := syncJSON(t, feed, "--today", today, "--format", "oneroster")
			m := hintedFlag.FindStringSubmatch(sum.Error)
			if exitStatusOf(err) != exitFailed || sum.Creates != 0 || m == nil {
				t.Fatalf("sync --format oneroster of SDS %s: exit %d, %d creates, error %q; want a failed run whose error names `sync --format …`",
					tt.fixture, exitStatusOf(err), sum.Creates, sum.Error)
			}
			if m[1] != "--format "+tt.format {
				t.Errorf("the hint says %q, want --format %s", m[1], tt.format)
			}
			if sum, err := syncJSON(t, feed, append([]string{"--today", today}, strings.Fields(m[1])...)...); err != nil || sum.Creates != tt.creates {
				t.Errorf("sync %s as the hint says: %v; %d creates (error %q)", m[1], err, sum.Creates, sum.Error)
			}
		})
	}
}
