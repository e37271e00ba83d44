package embedded_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rostersync/rostersync/internal/plan"
	"github.com/rostersync/rostersync/internal/state"
	"github.com/rostersync/rostersync/internal/state/embedded"
)

// The child process of TestKilledDuringPlanSave reads its folder and round
// from these.
const (
	envKillDir   = "ROSTERSYNC_EMBEDDED_KILL_DIR"
	envKillRound = "ROSTERSYNC_EMBEDDED_KILL_ROUND"
	// killChanges is the size of each plan the child saves: large enough
	// that saving it and journalling it take many writes.
	killChanges = 3000
	// journalBatch is how many entries the child journals per call: one
	// transaction each.
	journalBatch = 100
)

func killPlan(round, n int) *plan.Plan {
	p := &plan.Plan{FormatVersion: plan.FormatVersion, CustomerID: "cust1", RunID: fmt.Sprintf("r%02d-%04d", round, n), Entity: "users"}
	for i := range killChanges {
		p.Changes = append(p.Changes, plan.Change{Kind: plan.KindUser, Key: fmt.Sprintf("s%05d", i), Action: plan.Create,
			After: map[string]string{"userPrincipalName": fmt.Sprintf("p%05d@oak.example", i), "displayName": strings.Repeat("x", 200)}})
	}
	return p
}

// killChild is the child's work: save plan after plan, each followed by
// its whole journal a hundred entries at a time, until it is killed.
func killChild(dir string, round int) error {
	ctx := context.Background()
	b, err := embedded.Open(dir)
	if err != nil {
		return err
	}
	s := state.NewStore(b, nil)
	fmt.Println("ready")
	for n := 0; ; n++ {
		p := killPlan(round, n)
		if err := s.SavePlan(ctx, p); err != nil {
			return err
		}
		_, entries, err := s.LoadPlan(ctx, p.CustomerID, p.RunID, p.Entity)
		if err != nil {
			return err
		}
		for i := range entries {
			entries[i].Status, entries[i].OpsDone = state.EntryDone, []string{"user:" + entries[i].Key + "#create"}
		}
		for i := 0; i < len(entries); i += journalBatch {
			if err := s.SaveEntries(ctx, p.CustomerID, p.RunID, p.Entity, entries[i:min(i+journalBatch, len(entries))]); err != nil {
				return err
			}
		}
	}
}

// TestKilledDuringPlanSave kills a process (SIGKILL) at random points
// while it saves large plans and journals them, then reopens its folder:
// every plan reads as missing or whole, and its journal holds whole
// transactions — never half a plan, never half a transaction. The child is
// this test binary run again with envKillDir set.
func TestKilledDuringPlanSave(t *testing.T) {
	if dir := os.Getenv(envKillDir); dir != "" {
		round, _ := strconv.Atoi(os.Getenv(envKillRound))
		err := killChild(dir, round)
		fmt.Fprintln(os.Stderr, "child stopped:", err)
		os.Exit(3)
	}
	ctx := t.Context()
	dir := t.TempDir()
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	t.Logf("seed %d", seed)
	rounds := 8
	if testing.Short() {
		rounds = 3
	}
	var partial, missing int
	for round := range rounds {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKilledDuringPlanSave$")
		cmd.Env = append(os.Environ(), envKillDir+"="+dir, envKillRound+"="+strconv.Itoa(round))
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "ready\n" {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("round %d: child said %q, %v; stderr: %s", round, line, err, stderr.String())
		}
		time.Sleep(time.Duration(rng.Int64N(int64(600 * time.Millisecond))))
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		err = cmd.Wait()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("round %d: child ended with %v before the kill; stderr: %s", round, err, stderr.String())
		}

		b, err := embedded.Open(dir)
		if err != nil {
			t.Fatalf("round %d: reopening after the kill: %v", round, err)
		}
		s := state.NewStore(b, nil)
		for n := 0; ; n++ {
			want := killPlan(round, n)
			got, entries, err := s.LoadPlan(ctx, want.CustomerID, want.RunID, want.Entity)
			if errors.Is(err, state.ErrNotFound) {
				if n > 0 {
					missing++ // killed before a plan's header (or between plans)
				}
				break
			}
			if err != nil {
				t.Fatalf("round %d plan %d: LoadPlan after the kill = %v, want the whole plan or ErrNotFound", round, n, err)
			}
			if len(got.Changes) != killChanges || len(entries) != killChanges {
				t.Fatalf("round %d plan %d: %d changes, %d entries, want %d", round, n, len(got.Changes), len(entries), killChanges)
			}
			done := 0
			for i, e := range entries {
				w := want.Changes[i]
				if e.Key != w.Key || e.After["userPrincipalName"] != w.After["userPrincipalName"] || e.After["displayName"] != w.After["displayName"] {
					t.Fatalf("round %d plan %d entry %d = %+v, want %+v", round, n, i, e.Change, w)
				}
				if e.Status == state.EntryDone {
					if i != done || len(e.OpsDone) != 1 {
						t.Fatalf("round %d plan %d: entry %d done (ops %v) after %d done ones; journal rows are written in order", round, n, i, e.OpsDone, done)
					}
					done++
				}
			}
			if done%journalBatch != 0 && done != killChanges {
				t.Fatalf("round %d plan %d: %d entries journalled, not a whole number of transactions of %d", round, n, done, journalBatch)
			}
			if done < killChanges {
				// The child was journalling this plan; no later one exists.
				partial++
				if _, _, err := s.LoadPlan(ctx, want.CustomerID, killPlan(round, n+1).RunID, want.Entity); !errors.Is(err, state.ErrNotFound) {
					t.Fatalf("round %d: plan %d exists though plan %d was not finished: %v", round, n+1, n, err)
				}
				break
			}
		}
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d rounds: killed mid-journal %d times, before a plan's header or between plans %d times", rounds, partial, missing)
}
