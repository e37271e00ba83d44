package graphsim

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// exportJSON is a server's whole state as the seed format's text, the
// form two states are compared in.
func exportJSON(t *testing.T, s *Server) string {
	t.Helper()
	var b bytes.Buffer
	if err := WriteState(&b, s.Export()); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// reopen is what a restarted simulator sees in path: the snapshot with its
// write log replayed, loaded into a fresh server.
func reopen(t *testing.T, path string) (*Server, []string) {
	t.Helper()
	var warnings []string
	st, found, err := ReadDurableState(path, func(m string) { warnings = append(warnings, m) })
	if err != nil || !found {
		t.Fatalf("ReadDurableState(%s) = found %v, %v", path, found, err)
	}
	s := New(Options{ConsistencyDelay: -1})
	if err := s.Load(st); err != nil {
		t.Fatalf("Load(replayed state): %v", err)
	}
	return s, warnings
}

func logLines(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path + WriteLogSuffix)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		n++
	}
	return n
}

// persistedHarness is a seeded harness persisting into a temp folder.
func persistedHarness(t *testing.T, opts Options) (*harness, string) {
	t.Helper()
	h := newHarness(t, opts)
	path := filepath.Join(t.TempDir(), "graphsim.json")
	if err := h.s.Persist(path, PersistOptions{}); err != nil {
		t.Fatalf("Persist: %v", err)
	}
	return h, path
}

// TestPersistEveryWriteKind runs one write of every kind the simulator
// accepts and, after each, drops the server as a kill would (no Close) and
// reopens its files: the reopened tenant must equal the live one, and the
// snapshot must not have been touched (the writes went to the log only).
func TestPersistEveryWriteKind(t *testing.T) {
	h, path := persistedHarness(t, Options{TeamReplicationDelay: -1, TeamProvisioningDelay: 20 * time.Second})
	snapBefore, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	ref := func(kind, id string) map[string]any {
		return map[string]any{"@odata.id": "https://graph.microsoft.com/v1.0/" + kind + "/" + id}
	}
	steps := []struct {
		name   string
		do     func() *result
		status int
		// records is how many log lines the step adds.
		records int
	}{
		{"create user", func() *result {
			r := h.do("POST", "/v1.0/users", newUserBody("new.pupil"))
			ids["user"] = str(r.body["id"])
			return r
		}, 201, 1},
		{"patch user", func() *result {
			return h.do("PATCH", "/v1.0/users/"+ids["user"], map[string]any{"jobTitle": "Year 8", "accountEnabled": false})
		}, 204, 1},
		{"assign licence", func() *result {
			return h.do("POST", "/v1.0/users/"+ids["user"]+"/assignLicense", map[string]any{"addLicenses": []any{map[string]any{"skuId": skuStu}}, "removeLicenses": []any{}})
		}, 200, 1},
		{"revoke sessions", func() *result { return h.do("POST", "/v1.0/users/"+sam+"/revokeSignInSessions", nil) }, 200, 1},
		{"failed write changes nothing", func() *result {
			return h.do("PATCH", "/v1.0/users/00000000-0000-4000-8000-00000000beef", map[string]any{"jobTitle": "x"})
		}, 404, 0},
		{"create group with members", func() *result {
			r := h.do("POST", "/v1.0/groups", map[string]any{"displayName": "9Z History", "mailNickname": "9zhistory", "mailEnabled": true,
				"securityEnabled": false, "groupTypes": []string{"Unified"}, "owners@odata.bind": userRefs(ada), "members@odata.bind": userRefs(sam)})
			ids["group"] = str(r.body["id"])
			return r
		}, 201, 1},
		{"add member", func() *result {
			return h.do("POST", "/v1.0/groups/"+ids["group"]+"/members/$ref", ref("directoryObjects", ids["user"]))
		}, 204, 1},
		{"remove member", func() *result {
			return h.do("DELETE", "/v1.0/groups/"+ids["group"]+"/members/"+sam+"/$ref", nil)
		}, 204, 1},
		{"patch group", func() *result {
			return h.do("PATCH", "/v1.0/groups/"+ids["group"], map[string]any{"description": "History, year 9"})
		}, 204, 1},
		{"team from group", func() *result { return h.do("PUT", "/v1.0/groups/"+ids["group"]+"/team", map[string]any{}) }, 201, 1},
		{"patch team", func() *result {
			return h.do("PATCH", "/v1.0/teams/"+ids["group"], map[string]any{"description": "History team"})
		}, 204, 1},
		{"archive team (still running)", func() *result { return h.do("POST", "/v1.0/teams/"+ids["group"]+"/archive", nil) }, 202, 1},
		{"create class", func() *result {
			r := h.do("POST", "/v1.0/education/classes", map[string]any{"displayName": "8Y Science", "mailNickname": "8yscience",
				"classCode": "8YSC", "externalId": "CLS-8YSC"})
			ids["class"] = str(r.body["id"])
			return r
		}, 201, 1},
		{"class member", func() *result {
			return h.do("POST", "/v1.0/education/classes/"+ids["class"]+"/members/$ref", ref("education/users", ids["user"]))
		}, 204, 1},
		{"create school", func() *result {
			r := h.do("POST", "/v1.0/education/schools", map[string]any{"displayName": "Second School", "externalId": "URN-2"})
			ids["school"] = str(r.body["id"])
			return r
		}, 201, 1},
		{"school class", func() *result {
			return h.do("POST", "/v1.0/education/schools/"+ids["school"]+"/classes/$ref", ref("education/classes", ids["class"]))
		}, 204, 1},
		{"school user", func() *result {
			return h.do("POST", "/v1.0/education/schools/"+ids["school"]+"/users/$ref", ref("education/users", ids["user"]))
		}, 204, 1},
		{"create event", func() *result {
			r := h.do("POST", "/v1.0/users/"+ada+"/events", lesson("8Y Science", "L-8YSC-1", "2026-09-08T09:00:00", "2026-09-08T10:00:00"))
			ids["event"] = str(r.body["id"])
			return r
		}, 201, 1},
		{"patch event", func() *result {
			return h.do("PATCH", "/v1.0/users/"+ada+"/events/"+ids["event"], map[string]any{"subject": "8Y Physics"})
		}, 200, 1},
		{"delete event", func() *result { return h.do("DELETE", "/v1.0/users/"+ada+"/events/"+ids["event"], nil) }, 204, 1},
		{"batch of two creates", func() *result {
			return h.do("POST", "/v1.0/$batch", map[string]any{"requests": []batchReq{postUserItem("1", "batch1"), postUserItem("2", "batch2")}})
		}, 200, 2},
		{"delete class (leaves its school)", func() *result { return h.do("DELETE", "/v1.0/education/classes/"+ids["class"], nil) }, 204, 1},
		{"delete user (leaves groups and school)", func() *result { return h.do("DELETE", "/v1.0/users/"+ids["user"], nil) }, 204, 1},
		{"delete group", func() *result { return h.do("DELETE", "/v1.0/groups/"+allStaff, nil) }, 204, 1},
	}
	lines := 0
	for _, st := range steps {
		res := st.do()
		h.want(res, st.status, "")
		lines += st.records
		if got := logLines(t, path); got != lines {
			t.Errorf("%s: write log has %d records, want %d", st.name, got, lines)
		}
		reopened, warnings := reopen(t, path)
		if got, want := exportJSON(t, reopened), exportJSON(t, h.s); got != want {
			t.Fatalf("%s: reopened tenant differs from the live one\n--- reopened\n%s\n--- live\n%s", st.name, got, want)
		}
		if len(warnings) > 0 {
			t.Errorf("%s: warnings %q", st.name, warnings)
		}
	}
	snapAfter, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(snapBefore, snapAfter) || snapAfter.Size() != snapBefore.Size() || !snapAfter.ModTime().Equal(snapBefore.ModTime()) {
		t.Errorf("the snapshot was rewritten during writes: before %d bytes %v, after %d bytes %v",
			snapBefore.Size(), snapBefore.ModTime(), snapAfter.Size(), snapAfter.ModTime())
	}

	// Close folds the log into the snapshot.
	want := exportJSON(t, h.s)
	if err := h.s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if n := logLines(t, path); n != 0 {
		t.Errorf("write log after Close has %d records, want 0", n)
	}
	reopened, _ := reopen(t, path)
	if got := exportJSON(t, reopened); got != want {
		t.Errorf("state after Close differs:\n%s\nwant\n%s", got, want)
	}
	h.want(h.do("POST", "/v1.0/users", newUserBody("after.close")), 500, CodeInternalServerError)
}

// TestPersistTornLastLine: a kill in the middle of an append leaves a
// partial last line; replay keeps everything before it and says so.
func TestPersistTornLastLine(t *testing.T) {
	h, path := persistedHarness(t, Options{})
	h.createUser("kept.one")
	h.createUser("kept.two")
	want := exportJSON(t, h.s)
	f, err := os.OpenFile(path+WriteLogSuffix, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`{"tenant":"` + eduTenant + `","put":{"users":[{"id":"torn`); err != nil {
		t.Fatal(err)
	}
	f.Close()
	reopened, warnings := reopen(t, path)
	if got := exportJSON(t, reopened); got != want {
		t.Errorf("state with a torn last line differs from the state before it")
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "torn last line 3") {
		t.Errorf("warnings = %q, want one naming the torn line 3", warnings)
	}

	// A bad line that is not the last is corruption, not a kill.
	if err := os.WriteFile(path+WriteLogSuffix, []byte("{garbage\n"+`{"tenant":"`+eduTenant+`"}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ReadDurableState(path, nil); !errors.Is(err, ErrBadState) || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("ReadDurableState with a corrupt first line = %v, want ErrBadState naming line 1", err)
	}
}

// TestPersistRestartKeepsAppending: a reopened simulator carries on from
// the replayed state, and Persist compacts the old log into its snapshot.
func TestPersistRestartKeepsAppending(t *testing.T) {
	h, path := persistedHarness(t, Options{})
	first := h.createUser("before.kill")
	s2, _ := reopen(t, path)
	if err := s2.Persist(path, PersistOptions{Fsync: true}); err != nil {
		t.Fatalf("Persist after reopen: %v", err)
	}
	if n := logLines(t, path); n != 0 {
		t.Errorf("log after restart has %d records, want 0 (compacted into the snapshot)", n)
	}
	h2 := &harness{t: t, s: s2, tok: h.tok}
	second := h2.createUser("after.restart")
	s3, _ := reopen(t, path)
	for _, id := range []string{first, second} {
		if _, ok := s3.tenant(eduTenant).users[id]; !ok {
			t.Errorf("user %s lost across two restarts", id)
		}
	}
	// A seed loaded at run time is persisted as a whole tenant.
	if err := s2.AddTenant(TenantState{ID: "late-tenant", Edition: EditionBusiness}); err != nil {
		t.Fatal(err)
	}
	s4, _ := reopen(t, path)
	if got, want := exportJSON(t, s4), exportJSON(t, s2); got != want {
		t.Errorf("state with a tenant loaded at run time differs after reopen")
	}
}

// The helper process is "rostersync graphsim" in a real process, so the
// kill below is a real SIGKILL, not a cancelled context.
func TestMain(m *testing.M) {
	if args := os.Getenv("GRAPHSIM_HELPER_ARGS"); args != "" {
		if err := RunCommand(context.Background(), strings.Split(args, "\x1f"), os.Stdout, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestCommandSurvivesKill9 starts "graphsim --state" as a process, creates
// users through it, kills it with SIGKILL and starts it again with the same
// flags (seed included): every answered write is there.
func TestCommandSurvivesKill9(t *testing.T) {
	dir := t.TempDir()
	statePath := filepath.Join(dir, "graphsim.json")
	args := []string{"--addr", "127.0.0.1:0", "--seed", "../../testdata/graphsim/tenants.json", "--state", statePath, "--consistency-delay", "-1s"}
	start := func() (string, *exec.Cmd) {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "GRAPHSIM_HELPER_ARGS="+strings.Join(args, "\x1f"))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		line, err := bufio.NewReader(out).ReadString('\n')
		m := listenRE.FindStringSubmatch(line)
		if err != nil || m == nil {
			t.Fatalf("graphsim printed %q, %v", line, err)
		}
		return m[1], cmd
	}
	base, cmd := start()
	var created []string
	for i := range 5 {
		b, _ := json.Marshal(newUserBody(fmt.Sprintf("kill.%d", i)))
		req, _ := http.NewRequest("POST", base+"/v1.0/users", bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer sim:"+eduTenant)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var u map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&u)
		resp.Body.Close()
		if resp.StatusCode != 201 {
			t.Fatalf("create = %d %v", resp.StatusCode, u)
		}
		created = append(created, str(u["id"]))
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()

	base2, _ := start()
	for _, id := range created {
		if code := get(t, base2+"/v1.0/users/"+id, "sim:"+eduTenant); code != 200 {
			t.Errorf("user %s after kill -9 and restart: GET = %d, want 200", id, code)
		}
	}
	// The seeded users are still there too: the seed did not replace the
	// persisted tenant.
	if code := get(t, base2+"/v1.0/users/"+ada, "sim:"+eduTenant); code != 200 {
		t.Errorf("seeded user after restart: GET = %d", code)
	}
	resp, err := http.Get(base2 + "/_sim/export?tenant=" + eduTenant)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	st, err := DecodeState(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(st.Tenants[0].Users); n != 3+len(created) {
		t.Errorf("exported users = %d, want %d", n, 3+len(created))
	}
	_, _ = io.Copy(io.Discard, resp.Body)
}
