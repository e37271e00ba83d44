package state_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rostersync/rostersync/internal/runs"
	"github.com/rostersync/rostersync/internal/state"
	"github.com/rostersync/rostersync/internal/state/embedded"
)

// readCounting counts the rows its tables' List calls return.
type readCounting struct {
	state.Backend
	rows *atomic.Int64
}

func (b readCounting) Table(ctx context.Context, name string) (state.Table, error) {
	t, err := b.Backend.Table(ctx, name)
	return countingTable{t, b.rows}, err
}

type countingTable struct {
	state.Table
	rows *atomic.Int64
}

func (t countingTable) List(ctx context.Context, q state.Query) ([]state.Entity, error) {
	es, err := t.Table.List(ctx, q)
	t.rows.Add(int64(len(es)))
	return es, err
}

// The newest runs cost a handful of reads however long the history: the
// sweeper and the API read a few of them on every tick and page.
func TestNewestRunsReadFewRows(t *testing.T) {
	b, err := embedded.Open("")
	if err != nil {
		t.Fatal(err)
	}
	var rows atomic.Int64
	s := state.NewStore(readCounting{b, &rows}, nil)
	ctx := context.Background()
	start := time.Date(2026, 9, 1, 2, 0, 0, 0, time.UTC)
	var ids []string
	for i := range 300 {
		at := start.Add(time.Duration(i) * 24 * time.Hour)
		r := runs.New(runs.ScheduledID("oak", "nightly", at.Format(time.DateOnly), at), "oak", "nightly", runs.TriggerTimer, runs.ModeApply, at.Format(time.DateOnly), []string{"users"}, at)
		if _, err := s.CreateRun(ctx, r); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	rows.Store(0)
	got, err := s.ListRuns(ctx, "oak", "", 3)
	if err != nil {
		t.Fatal(err)
	}
	var gotIDs []string
	for _, r := range got {
		gotIDs = append(gotIDs, r.ID)
	}
	if want := []string{ids[299], ids[298], ids[297]}; !slices.Equal(gotIDs, want) {
		t.Errorf("newest 3 = %v, want %v", gotIDs, want)
	}
	if n := rows.Load(); n != 3 {
		t.Errorf("the newest 3 of 300 runs listed %d rows, want their 3 index rows", n)
	}
}

// A history written before the index existed (runs rows, no index rows)
// is indexed on first listing, newest first.
func TestRunIndexBackfilled(t *testing.T) {
	b, err := embedded.Open("")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	runsTable, err := b.Table(ctx, state.TableRuns)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range 3 {
		at := time.Date(2026, 9, 1+i, 2, 0, 0, 0, time.UTC)
		r := runs.New(fmt.Sprintf("%s-0000000%d", at.Format("20060102T150405Z"), i), "oak", "nightly", runs.TriggerTimer, runs.ModeApply, "w", []string{"users"}, at)
		data, _ := json.Marshal(r)
		if _, err := runsTable.Insert(ctx, state.Entity{PartitionKey: state.EncodeKey("oak"), RowKey: state.EncodeKey(r.ID), Props: map[string]string{"Data": string(data), "Status": string(r.Status)}}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	s := state.NewStore(b, nil)
	got, err := s.ListRuns(ctx, "oak", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	var gotIDs []string
	for _, r := range got {
		gotIDs = append(gotIDs, r.ID)
	}
	if want := []string{ids[2], ids[1], ids[0]}; !slices.Equal(gotIDs, want) {
		t.Errorf("old history listed %v, want %v", gotIDs, want)
	}
}
