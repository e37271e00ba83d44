package apply

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rostersync/rostersync/internal/plan"
	"github.com/rostersync/rostersync/internal/state"
)

// An account created in an earlier delivery whose links were never
// written (the process died between journal and links) is linked before
// anything else is sent.
func TestApplyRelinksDoneEntriesFirst(t *testing.T) {
	p, entries := testPlan()
	entries[1].Status, entries[1].Created, entries[1].OpsDone = state.EntryDone, "obj-earlier", []string{"user:s2#create"}
	ft := newFakeTenant()
	var linkedBeforeSend bool
	j := &memJournal{}
	exec := ExecutorFunc(func(ctx context.Context, ops []Op) []Result {
		if _, ok := j.links["s2"]; ok && ft.calls == 0 {
			linkedBeforeSend = true
		}
		return ft.Execute(ctx, ops)
	})
	if _, err := New(exec, j, testExpand, testLink, &memCreds{}, passwords, nil, Options{}).Apply(context.Background(), p, "t1", entries, false); err != nil {
		t.Fatal(err)
	}
	if !linkedBeforeSend {
		t.Fatal("the earlier create's link was not stored before the first round was sent")
	}
	if got := j.links["s2"].TargetID; got != "obj-earlier" {
		t.Fatalf("link of s2 = %q, want obj-earlier", got)
	}
	if !j.saved["s2"].Linked {
		t.Fatal("journal does not record that s2's link is stored")
	}
}

// Every create's intent is on file before the create is sent, and is
// settled once the account's link is stored.
func TestApplyJournalsIntentBeforeCreate(t *testing.T) {
	p, entries := testPlan()
	ft := newFakeTenant()
	j := &memJournal{}
	var missing []string
	exec := ExecutorFunc(func(ctx context.Context, ops []Op) []Result {
		for _, op := range ops {
			if op.Kind != OpCreateUser {
				continue
			}
			key := strings.TrimSuffix(strings.TrimPrefix(op.ID, "user:"), "#create")
			if in, ok := j.intents[key]; !ok || in.Key != op.Props["userPrincipalName"] {
				missing = append(missing, key)
			}
		}
		return ft.Execute(ctx, ops)
	})
	if _, err := New(exec, j, testExpand, testLink, &memCreds{}, passwords, nil, Options{}).Apply(context.Background(), p, "t1", entries, false); err != nil {
		t.Fatal(err)
	}
	if len(missing) > 0 {
		t.Fatalf("creates sent without a journalled intent: %v", missing)
	}
	if len(j.intents) != 0 {
		t.Fatalf("intents left open after their links were stored: %v", j.intents)
	}
	for _, k := range []string{"s1", "s2"} {
		if j.links[k].TargetID == "" || !j.saved[k].Linked {
			t.Fatalf("%s: link %+v, journalled linked=%t", k, j.links[k], j.saved[k].Linked)
		}
	}
}

// A link that cannot be stored leaves the round undone: the entry is not
// journalled as done without its link.
func TestApplyNeverJournalsDoneWithoutLink(t *testing.T) {
	p, entries := testPlan()
	j := &failingLinks{memJournal: &memJournal{}}
	_, err := New(newFakeTenant(), j, testExpand, testLink, &memCreds{}, passwords, nil, Options{}).Apply(context.Background(), p, "t1", entries, false)
	if err == nil {
		t.Fatal("apply succeeded although links could not be stored")
	}
	for k, e := range j.saved {
		if e.Created != "" {
			t.Fatalf("%s journalled with its created account although its link was never stored", k)
		}
	}
}

type failingLinks struct{ *memJournal }

func (f *failingLinks) PutMappings(ctx context.Context, ms ...state.Mapping) error {
	return errors.New("storage unavailable")
}

// An operation Graph keeps answering "later" ends failed after the cap,
// across calls, instead of keeping the run going for ever.
func TestApplyCapsAttemptsAcrossCalls(t *testing.T) {
	p, entries := testPlan()
	ft := newFakeTenant()
	ft.throttle["user:s3#patch"] = 1 << 30
	j := &memJournal{}
	a := New(ft, j, testExpand, testLink, &memCreds{}, passwords, nil, Options{MaxAttempts: 4, MaxWait: time.Microsecond})
	var pr Progress
	for call := 0; call < 10; call++ {
		var err error
		if pr, err = a.Apply(context.Background(), p, "t1", entries, false); err != nil {
			t.Fatal(err)
		}
		for i := range entries {
			if e, ok := j.saved[entries[i].Key]; ok {
				entries[i] = e
			}
		}
		if pr.Complete() {
			break
		}
		time.Sleep(6 * time.Millisecond)
	}
	if !pr.Complete() {
		t.Fatalf("still pending after 10 calls: %+v", pr)
	}
	e := j.saved["s3"]
	if e.Status != state.EntryFailed || e.Attempts != 4 || !strings.Contains(e.Error, "gave up after 4 attempts") {
		t.Fatalf("s3 = status %s, attempts %d, error %q", e.Status, e.Attempts, e.Error)
	}
}

// A journal entry that matches no change means journal and plan parted.
func TestApplyRefusesJournalOutsidePlan(t *testing.T) {
	p, entries := testPlan()
	entries = append(entries, state.Entry{Change: plan.Change{Kind: plan.KindUser, Key: "ghost", Action: plan.Create}, Status: state.EntryPending})
	_, err := New(newFakeTenant(), &memJournal{}, testExpand, testLink, &memCreds{}, passwords, nil, Options{}).Apply(context.Background(), p, "t1", entries, false)
	if !errors.Is(err, ErrNotApplyable) || !strings.Contains(err.Error(), "ghost") {
		t.Fatalf("err = %v, want ErrNotApplyable naming the stray entry", err)
	}
}

// A guard's held changes wait for a confirmation while the rest of the
// plan is applied; confirmed, they are applied too.
func TestApplyLeavesHeldChangesUntilConfirmed(t *testing.T) {
	p, entries := testPlan()
	for i := range entries {
		if entries[i].Action == plan.Suspend {
			entries[i].Held = true
			p.Changes[i].Held = true
		}
	}
	ft := newFakeTenant()
	j := &memJournal{}
	a := New(ft, j, testExpand, testLink, &memCreds{}, passwords, nil, Options{})
	pr, err := a.Apply(context.Background(), p, "t1", entries, false)
	if err != nil {
		t.Fatal(err)
	}
	if pr.Held != 1 || pr.Pending != 0 || pr.Done != 4 || !pr.Complete() {
		t.Fatalf("unconfirmed: %+v; want 4 done, 1 held, nothing pending", pr)
	}
	if ft.done["user:s4#disable"] != 0 {
		t.Fatal("a held suspension reached the tenant before confirmation")
	}
	for i := range entries {
		if e, ok := j.saved[entries[i].Key]; ok {
			entries[i] = e
		}
	}
	if pr, err = a.Apply(context.Background(), p, "t1", entries, true); err != nil {
		t.Fatal(err)
	}
	if pr.Held != 0 || pr.Done != 5 || ft.done["user:s4#disable"] != 1 {
		t.Fatalf("confirmed: %+v, disable applied %d times", pr, ft.done["user:s4#disable"])
	}
}
