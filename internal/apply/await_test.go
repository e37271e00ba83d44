package apply

import (
	"context"
	"testing"
	"time"

	"github.com/rostersync/rostersync/internal/plan"
	"github.com/rostersync/rostersync/internal/state"
)

// An asynchronous write and its poll: the poll waits for the write's
// Handle and takes it as its Ref; "running" is a scheduled wait handed
// back as RequeueAfter; "failed" sends the write again (Redo); a write
// done without a Handle leaves nothing to poll.
func TestAwaitHandleAndRedo(t *testing.T) {
	expand := func(c plan.Change, _ string) []Op {
		return []Op{{ID: "start", Kind: "asyncStart", TargetID: "x"}, {ID: "poll", Kind: "asyncPoll", TargetID: "x", Await: "start"}}
	}
	for _, tc := range []struct {
		name    string
		answers []string // the poll's answers in turn
		starts  int
	}{
		{"succeeds after running", []string{"running", "succeeded"}, 1},
		{"failed once then succeeds", []string{"failed", "succeeded"}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			starts, polls := 0, 0
			var refs []string
			exec := ExecutorFunc(func(ctx context.Context, ops []Op) []Result {
				var out []Result
				for _, op := range ops {
					switch op.Kind {
					case "asyncStart":
						starts++
						out = append(out, Result{ID: op.ID, Status: Done, Handle: "/ops/" + string(rune('0'+starts))})
					case "asyncPoll":
						refs = append(refs, op.Ref)
						a := tc.answers[polls]
						polls++
						switch a {
						case "running":
							out = append(out, Result{ID: op.ID, Status: Retry, RetryAfter: time.Minute})
						case "failed":
							out = append(out, Result{ID: op.ID, Status: Retry, Redo: op.Await})
						default:
							out = append(out, Result{ID: op.ID, Status: Done})
						}
					}
				}
				return out
			})
			p := &plan.Plan{Changes: []plan.Change{{Kind: "k", Key: "a", Action: plan.Update, TargetID: "x"}}}
			entries := []state.Entry{{Change: p.Changes[0], Status: state.EntryPending}}
			j := &memJournal{}
			a := New(exec, j, expand, nil, nil, nil, nil, Options{MaxWait: time.Second})
			for i := 0; i < 5; i++ {
				pr, err := a.Apply(context.Background(), p, "", entries, false)
				if err != nil {
					t.Fatal(err)
				}
				entries = []state.Entry{j.saved["a"]}
				if pr.Complete() {
					break
				}
				if pr.RequeueAfter < time.Minute-time.Second {
					t.Fatalf("a running operation handed back after %v, want about a minute", pr.RequeueAfter)
				}
			}
			if entries[0].Status != state.EntryDone || starts != tc.starts {
				t.Fatalf("entry %+v after %d starts, want done after %d", entries[0], starts, tc.starts)
			}
			if refs[0] != "/ops/1" || refs[len(refs)-1] != "/ops/"+string(rune('0'+tc.starts)) {
				t.Errorf("polled %v", refs)
			}
		})
	}
	t.Run("done without a handle", func(t *testing.T) {
		exec := ExecutorFunc(func(ctx context.Context, ops []Op) []Result {
			var out []Result
			for _, op := range ops {
				if op.Kind == "asyncPoll" {
					t.Errorf("polled with nothing to poll")
				}
				out = append(out, Result{ID: op.ID, Status: Done})
			}
			return out
		})
		p := &plan.Plan{Changes: []plan.Change{{Kind: "k", Key: "a", Action: plan.Update, TargetID: "x"}}}
		entries := []state.Entry{{Change: p.Changes[0], Status: state.EntryPending}}
		pr, err := New(exec, &memJournal{}, expand, nil, nil, nil, nil, Options{}).Apply(context.Background(), p, "", entries, false)
		if err != nil || !pr.Complete() || pr.Done != 1 {
			t.Fatalf("progress %+v, %v", pr, err)
		}
	})
}

// TestAwaitFirstLookAfter: a write done with a Handle and a RetryAfter
// (a team create: provisioning takes tens of seconds, and Teams asks for
// 30 s between checks) holds the op that follows it that long: the call
// sends the write alone and hands back for the wait, where the poll used
// to go out at once to meet an operation that had not finished.
func TestAwaitFirstLookAfter(t *testing.T) {
	expand := func(c plan.Change, _ string) []Op {
		return []Op{{ID: "start", Kind: "asyncStart", TargetID: "x"}, {ID: "poll", Kind: "asyncPoll", TargetID: "x", Await: "start"}}
	}
	for _, tc := range []struct {
		name      string
		firstLook time.Duration
		polls     int
	}{
		{"look at once", 0, 1},
		{"first look after a minute", time.Minute, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			polls := 0
			exec := ExecutorFunc(func(ctx context.Context, ops []Op) []Result {
				var out []Result
				for _, op := range ops {
					switch op.Kind {
					case "asyncStart":
						out = append(out, Result{ID: op.ID, Status: Done, Handle: "/ops/1", RetryAfter: tc.firstLook})
					case "asyncPoll":
						polls++
						out = append(out, Result{ID: op.ID, Status: Done})
					}
				}
				return out
			})
			p := &plan.Plan{Changes: []plan.Change{{Kind: "k", Key: "a", Action: plan.Update, TargetID: "x"}}}
			entries := []state.Entry{{Change: p.Changes[0], Status: state.EntryPending}}
			pr, err := New(exec, &memJournal{}, expand, nil, nil, nil, nil, Options{MaxWait: time.Second}).Apply(context.Background(), p, "", entries, false)
			if err != nil {
				t.Fatal(err)
			}
			if polls != tc.polls {
				t.Errorf("polled %d times in the call, want %d", polls, tc.polls)
			}
			if tc.firstLook > 0 && (pr.Complete() || pr.RequeueAfter < tc.firstLook-time.Second) {
				t.Errorf("progress %+v: want the poll handed back for about %v", pr, tc.firstLook)
			}
		})
	}
}
