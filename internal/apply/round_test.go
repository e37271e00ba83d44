package apply

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/rostersync/rostersync/internal/plan"
	"github.com/rostersync/rostersync/internal/state"
)

// classOps expands a class change as the classrooms entity does, in
// miniature: its create, a member, its teacher (Op.Early), its team (an
// asynchronous start) and the poll that follows the team.
func classOps(c plan.Change, created string) []Op {
	id := func(s string) string { return c.Key + "#" + s }
	return []Op{{ID: id("create"), Kind: "create", Key: c.Key, TargetID: created},
		{ID: id("member"), Kind: "member", TargetID: created}, {ID: id("teacher"), Kind: "teacher", TargetID: created, Early: true},
		{ID: id("team"), Kind: "team", TargetID: created}, {ID: id("poll"), Kind: "poll", TargetID: created, Await: id("team")}}
}

// roundRecorder is an executor that does every op and keeps, round by
// round, what name says of each op it was sent.
func roundRecorder(name func(Op) string) (Executor, *[][]string) {
	var rounds [][]string
	exec := ExecutorFunc(func(ctx context.Context, ops []Op) []Result {
		var names []string
		var out []Result
		for _, op := range ops {
			names = append(names, name(op))
			res := Result{ID: op.ID, Status: Done}
			switch op.Kind {
			case "create":
				res.TargetID = "id-" + op.Key
			case "team":
				res.Handle = "/ops/" + op.TargetID
			}
			out = append(out, res)
		}
		rounds = append(rounds, names)
		return out
	})
	return exec, &rounds
}

// classPlan is a plan creating a class per key, with its journal entries.
func classPlan(keys ...string) (*plan.Plan, []state.Entry) {
	p := &plan.Plan{}
	var entries []state.Entry
	for _, k := range keys {
		c := plan.Change{Kind: "k", Key: k, Action: plan.Create}
		p.Changes = append(p.Changes, c)
		entries = append(entries, state.Entry{Change: c, Status: state.EntryPending})
	}
	return p, entries
}

// TestRoundOrder: a round sends creates first, then the ops the others
// need (Op.Early: a class's teacher), then the ops that start an
// asynchronous operation another op follows (a team create: Teams meters
// them at 10 a second), then the rest, and the follow-ups (polls) last.
// Before, a round took the follow-ups of one round of team creates in
// plan order, ahead of the next classes' team creates, and a round of
// polls that only found teams still provisioning held those creates up.
func TestRoundOrder(t *testing.T) {
	exec, rounds := roundRecorder(func(op Op) string { return string(op.Kind) })
	p, entries := classPlan("a", "b")
	// Class a is made; b's create is still to go.
	entries[0].Created, entries[0].OpsDone = "id-a", []string{"a#create"}
	pr, err := New(exec, &memJournal{}, classOps, nil, nil, nil, nil, Options{}).Apply(context.Background(), p, "", entries, false)
	if err != nil || !pr.Complete() {
		t.Fatalf("progress %+v, %v", pr, err)
	}
	want := [][]string{{"create", "teacher", "team", "member"}, {"teacher", "team", "member", "poll"}, {"poll"}}
	if fmt.Sprint(*rounds) != fmt.Sprint(want) {
		t.Errorf("rounds %v, want %v", *rounds, want)
	}
}

// TestRoundOrderWhenMoreAreReady: with more ops ready than a round takes,
// each round is the first RoundSize of every ready op in rank order, then
// plan order, as though all were gathered and sorted: a round gathers no
// more than RoundSize of each rank, so a 100,000-change plan does not
// gather and sort everything to send 200.
func TestRoundOrderWhenMoreAreReady(t *testing.T) {
	exec, rounds := roundRecorder(func(op Op) string { return op.ID })
	p, entries := classPlan("a", "b", "c", "d", "e")
	for i := range entries {
		// Every class is made: its other ops are all ready at once.
		k := entries[i].Key
		entries[i].Created, entries[i].OpsDone = "id-"+k, []string{k + "#create"}
	}
	pr, err := New(exec, &memJournal{}, classOps, nil, nil, nil, nil, Options{RoundSize: 3}).Apply(context.Background(), p, "", entries, false)
	if err != nil || !pr.Complete() {
		t.Fatalf("progress %+v, %v", pr, err)
	}
	want := [][]string{
		{"a#teacher", "b#teacher", "c#teacher"},
		{"d#teacher", "e#teacher", "a#team"},
		{"b#team", "c#team", "d#team"},
		{"e#team", "a#member", "b#member"},
		{"c#member", "d#member", "e#member"},
		{"a#poll", "b#poll", "c#poll"},
		{"d#poll", "e#poll"},
	}
	if fmt.Sprint(*rounds) != fmt.Sprint(want) {
		t.Errorf("rounds\n%v\nwant\n%v", *rounds, want)
	}
}

// TestExpandOncePerCall: a change is expanded once per Apply call and
// created id, however many rounds the call sends: expanding every pending
// change in every round (for a classrooms plan, decoding 641 payloads
// hundreds of times) was a fifth of a classrooms run's CPU.
func TestExpandOncePerCall(t *testing.T) {
	expansions := map[string]int{}
	expand := func(c plan.Change, created string) []Op {
		expansions[c.Key+"|"+created]++
		ops := []Op{{ID: c.Key + "#create", Kind: "create", Key: c.Key, TargetID: created}}
		for i := range 5 {
			ops = append(ops, Op{ID: fmt.Sprintf("%s#member%d", c.Key, i), Kind: "member", Ref: created, TargetID: created})
		}
		return ops
	}
	exec := ExecutorFunc(func(ctx context.Context, ops []Op) []Result {
		var out []Result
		for _, op := range ops {
			res := Result{ID: op.ID, Status: Done}
			if op.Kind == "create" {
				res.TargetID = "id-" + op.Key
			}
			out = append(out, res)
		}
		return out
	})
	p := &plan.Plan{}
	var entries []state.Entry
	for i := range 4 {
		c := plan.Change{Kind: "k", Key: fmt.Sprintf("c%d", i), Action: plan.Create}
		p.Changes = append(p.Changes, c)
		entries = append(entries, state.Entry{Change: c, Status: state.EntryPending})
	}
	// Rounds of 2 ops: 24 ops take a dozen rounds.
	pr, err := New(exec, &memJournal{}, expand, nil, nil, nil, nil, Options{RoundSize: 2, MaxWait: time.Second}).Apply(context.Background(), p, "", entries, false)
	if err != nil || !pr.Complete() || pr.Done != 4 {
		t.Fatalf("progress %+v, %v", pr, err)
	}
	for k, n := range expansions {
		if n != 1 {
			t.Errorf("%s expanded %d times in one call, want once", k, n)
		}
	}
	keys := make([]string, 0, len(expansions))
	for k := range expansions {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if len(keys) != 8 {
		t.Errorf("expansions %v, want each change before and after its create", keys)
	}
}

// TestRequeueComesEarly: a wait longer than MaxWait is handed back less
// half of MaxWait, so the follow-up's own start (reading the plan and
// journal again) falls within the wait and it sleeps the rest in process;
// before, every hand-back started its op late by that start, and a
// classrooms run's team creates, due the moment the replication wait
// ends, by 10-20 s of Graph time.
func TestRequeueComesEarly(t *testing.T) {
	expand := func(c plan.Change, _ string) []Op { return []Op{{ID: "op", Kind: "k", TargetID: "x"}} }
	exec := ExecutorFunc(func(ctx context.Context, ops []Op) []Result {
		return []Result{{ID: ops[0].ID, Status: Retry, RetryAfter: time.Minute}}
	})
	p := &plan.Plan{Changes: []plan.Change{{Kind: "k", Key: "a", Action: plan.Update, TargetID: "x"}}}
	entries := []state.Entry{{Change: p.Changes[0], Status: state.EntryPending}}
	pr, err := New(exec, &memJournal{}, expand, nil, nil, nil, nil, Options{MaxWait: 10 * time.Second}).Apply(context.Background(), p, "", entries, false)
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Minute - 5*time.Second; pr.RequeueAfter < want-time.Second || pr.RequeueAfter > want {
		t.Errorf("handed back for %v, want %v: the wait less half of MaxWait", pr.RequeueAfter, want)
	}
}
