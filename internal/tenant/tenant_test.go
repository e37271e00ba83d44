package tenant

import (
	"errors"
	"slices"
	"testing"
	"time"
)

func profile() Profile {
	return Profile{CustomerID: "oakfield", ID: "nightly", Enabled: true, RunAt: "02:00", TimeZone: "Europe/London", Entities: []string{EntityNoop}}
}

func TestDueWindow(t *testing.T) {
	utc := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	tests := []struct {
		name   string
		mutate func(*Profile)
		now    string
		wantID string
		due    bool
	}{
		{"after run time in winter (GMT)", nil, "2026-11-21T02:05:00Z", "2026-11-21", true},
		{"before run time is yesterday's window", nil, "2026-11-21T01:55:00Z", "2026-11-20", true},
		{"summer time shifts the instant", nil, "2026-07-01T01:30:00Z", "2026-07-01", true}, // 02:30 BST
		{"summer time before run", nil, "2026-07-01T00:30:00Z", "2026-06-30", true},         // 01:30 BST
		{"disabled", func(p *Profile) { p.Enabled = false }, "2026-11-21T02:05:00Z", "2026-11-21", false},
		{"before start date", func(p *Profile) { p.StartDate = "2026-11-22" }, "2026-11-21T02:05:00Z", "2026-11-21", false},
		{"after end date", func(p *Profile) { p.EndDate = "2026-11-20" }, "2026-11-21T02:05:00Z", "2026-11-21", false},
		{"on the end date", func(p *Profile) { p.EndDate = "2026-11-21" }, "2026-11-21T02:05:00Z", "2026-11-21", true},
		{"created after the window", func(p *Profile) { p.CreatedAt = time.Date(2026, 11, 21, 2, 1, 0, 0, time.UTC) }, "2026-11-21T02:05:00Z", "2026-11-21", false},
		{"other zone", func(p *Profile) { p.TimeZone = "Asia/Dubai" }, "2026-11-21T02:05:00Z", "2026-11-21", true}, // 06:05 local
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := profile()
			if tt.mutate != nil {
				tt.mutate(&p)
			}
			w, due, err := p.DueWindow(utc(tt.now))
			if err != nil {
				t.Fatal(err)
			}
			if w.ID != tt.wantID || due != tt.due {
				t.Errorf("DueWindow(%s) = %s, %t, want %s, %t", tt.now, w.ID, due, tt.wantID, tt.due)
			}
			if w.At.After(utc(tt.now)) {
				t.Errorf("window instant %v is after now", w.At)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Profile)
	}{
		{"bad id", func(p *Profile) { p.ID = "a/b" }},
		{"empty customer", func(p *Profile) { p.CustomerID = "" }},
		{"bad time", func(p *Profile) { p.RunAt = "25:00" }},
		{"bad zone", func(p *Profile) { p.TimeZone = "Mars/Olympus" }},
		{"empty zone", func(p *Profile) { p.TimeZone = "" }},
		{"bad date", func(p *Profile) { p.StartDate = "21/11/2026" }},
		{"end before start", func(p *Profile) { p.StartDate, p.EndDate = "2026-09-01", "2026-08-01" }},
		{"no entities", func(p *Profile) { p.Entities = nil }},
		{"entity twice", func(p *Profile) { p.Entities = []string{"noop", "noop"} }},
	}
	if err := profile().Validate(); err != nil {
		t.Fatalf("valid profile: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := profile()
			tt.mutate(&p)
			if err := p.Validate(); !errors.Is(err, ErrInvalid) {
				t.Errorf("Validate() = %v, want ErrInvalid", err)
			}
		})
	}
}

func TestOverlaps(t *testing.T) {
	a := profile()
	a.ID, a.StartDate, a.EndDate = "autumn", "2026-09-01", "2026-12-20"
	tests := []struct {
		name  string
		other func() Profile
		want  bool
	}{
		{"same dates", func() Profile { b := a; b.ID = "b"; return b }, true},
		{"open ended", func() Profile { b := profile(); b.ID = "b"; return b }, true},
		{"after", func() Profile { b := a; b.ID, b.StartDate, b.EndDate = "b", "2027-01-05", "2027-04-01"; return b }, false},
		{"touching day", func() Profile { b := a; b.ID, b.StartDate, b.EndDate = "b", "2026-12-20", "2027-04-01"; return b }, true},
		{"disabled other", func() Profile { b := a; b.ID, b.Enabled = "b", false; return b }, false},
		{"other customer", func() Profile { b := a; b.ID, b.CustomerID = "b", "elm"; return b }, false},
		{"itself", func() Profile { return a }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := len(a.Overlaps([]Profile{tt.other()})) > 0
			if got != tt.want {
				t.Errorf("Overlaps = %t, want %t", got, tt.want)
			}
		})
	}
}

func TestEnabledEntities(t *testing.T) {
	c := Customer{ID: "oakfield", Features: Features{Users: true, Groups: false}}
	p := profile()
	p.Entities = []string{EntityUsers, EntityGroups, EntityNoop}
	if got, want := c.EnabledEntities(p), []string{EntityUsers, EntityNoop}; !slices.Equal(got, want) {
		t.Errorf("EnabledEntities = %v, want %v", got, want)
	}
}
