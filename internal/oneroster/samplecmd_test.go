package oneroster

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rostersync/rostersync/internal/roster"
)

func TestSampleCommand(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name       string
		args       []string
		wantErr    bool
		wantOut    string
		readBack   string
		wantPeople int
	}{
		{name: "folder", args: []string{"--students", "70", "--staff", "7", "--out", filepath.Join(dir, "f")},
			wantOut: "77 people (70 students, 7 staff)", readBack: filepath.Join(dir, "f"), wantPeople: 77},
		{name: "zip, two schools", args: []string{"-students=30", "-staff=3", "-schools=2", "-seed=9", "-zip", filepath.Join(dir, "t.zip")},
			wantOut: "66 people", readBack: filepath.Join(dir, "t.zip"), wantPeople: 66},
		{name: "staff only", args: []string{"--students", "0", "--staff", "4", "--out", filepath.Join(dir, "s")},
			wantOut: "4 people (0 students, 4 staff)", readBack: filepath.Join(dir, "s"), wantPeople: 4},
		{name: "neither out nor zip", args: []string{"--students", "5"}, wantErr: true},
		{name: "both out and zip", args: []string{"--out", dir, "--zip", filepath.Join(dir, "x.zip")}, wantErr: true},
		{name: "negative", args: []string{"--students", "-5", "--out", dir}, wantErr: true},
		{name: "not a number", args: []string{"--students", "many", "--out", dir}, wantErr: true},
		{name: "stray argument", args: []string{"--out", dir, "extra"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := SampleCommand(context.Background(), tt.args, &stdout, &stderr)
			if (err != nil) != tt.wantErr {
				t.Fatalf("SampleCommand(%q) error = %v, want error %v (stderr %s)", tt.args, err, tt.wantErr, stderr.String())
			}
			if !strings.Contains(stdout.String(), tt.wantOut) {
				t.Errorf("stdout = %q, want it to contain %q", stdout.String(), tt.wantOut)
			}
			if tt.readBack == "" {
				return
			}
			f, err := Open(context.Background(), tt.readBack, &ReadOptions{Strict: true})
			if err != nil {
				t.Fatalf("reading the sample back: %v", err)
			}
			if got := len(f.Roster.People); got != tt.wantPeople {
				t.Errorf("read back %d people, want %d", got, tt.wantPeople)
			}
		})
	}
	t.Run("help", func(t *testing.T) {
		var stderr bytes.Buffer
		err := SampleCommand(context.Background(), []string{"-h"}, &bytes.Buffer{}, &stderr)
		if !errors.Is(err, flag.ErrHelp) || !strings.Contains(stderr.String(), "--out DIR | --zip FILE") {
			t.Errorf("SampleCommand(-h) = %v, stderr %q", err, stderr.String())
		}
	})
}

// TestSampleAnyDate: with no --year, the sample is the school year running
// on the day it is written, 1 September to 31 August, so reading it that
// day finds its session whatever the date.
func TestSampleAnyDate(t *testing.T) {
	for _, day := range []string{"2026-08-31", "2026-09-01", "2027-02-14", "2031-07-31"} {
		t.Run(day, func(t *testing.T) {
			now, _ := time.Parse(time.DateOnly, day)
			dir := t.TempDir()
			var out, errOut bytes.Buffer
			if err := sampleCommand(context.Background(), []string{"--students", "20", "--staff", "4", "--out", dir}, &out, &errOut, now); err != nil {
				t.Fatalf("sample: %v\n%s", err, errOut.String())
			}
			feed, err := Open(context.Background(), dir, &ReadOptions{ValidateOptions: ValidateOptions{On: roster.DateOf(now)}})
			if err != nil {
				t.Fatalf("reading the sample written on %s that day: %v", day, err)
			}
			if want := fmt.Sprintf("ay%d", AcademicYear(now)); feed.Session != want {
				t.Errorf("session = %q, want %q", feed.Session, want)
			}
		})
	}
}
