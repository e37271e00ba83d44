package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
}

// TestServeAnswersTheHost starts `rostersync serve` as the Functions host
// would (only FUNCTIONS_CUSTOMHANDLER_PORT set) and sends it the host's
// readiness probe and a timer invocation.
func TestServeAnswersTheHost(t *testing.T) {
	port := freePort(t)
	env := map[string]string{"FUNCTIONS_CUSTOMHANDLER_PORT": port, "StateDir": t.TempDir()}
	var stderr bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve"}, environment{getenv: func(k string) string { return env[k] }, stdout: &bytes.Buffer{}, stderr: &stderr})
	}()
	base := "http://127.0.0.1:" + port
	var resp *http.Response
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if resp, err = http.Get(base + "/"); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("GET / never answered: %v; stderr: %s", err, stderr.String())
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET / = %d, want 200", resp.StatusCode)
	}
	timer, err := os.ReadFile(filepath.Join("..", "..", "testdata", "invoke", "timer.json"))
	if err != nil {
		t.Fatal(err)
	}
	resp, err = http.Post(base+"/Scheduler", "application/json", bytes.NewReader(timer))
	if err != nil {
		t.Fatal(err)
	}
	var env2 struct {
		Outputs map[string]any
		Logs    []string
	}
	if err := json.NewDecoder(resp.Body).Decode(&env2); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || env2.Outputs == nil || len(env2.Logs) == 0 || !strings.HasPrefix(env2.Logs[0], "tick ") {
		t.Errorf("POST /Scheduler = %d %+v, want 200 with the tick's log", resp.StatusCode, env2)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("serve returned %v", err)
	}
}

func TestServeNeedsItsPort(t *testing.T) {
	err := run(context.Background(), []string{"serve"}, environment{getenv: func(string) string { return "" }, stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}})
	if err == nil || !strings.Contains(err.Error(), "FUNCTIONS_CUSTOMHANDLER_PORT") {
		t.Errorf("serve without a port = %v, want an error naming FUNCTIONS_CUSTOMHANDLER_PORT", err)
	}
}

func TestUnknownCommand(t *testing.T) {
	var stderr bytes.Buffer
	err := run(context.Background(), []string{"frobnicate"}, environment{getenv: os.Getenv, stdout: &bytes.Buffer{}, stderr: &stderr})
	if _, ok := err.(usageError); !ok {
		t.Errorf("unknown command error = %v, want a usage error", err)
	}
}

func TestDemoRuns(t *testing.T) {
	var out bytes.Buffer
	dir := t.TempDir()
	err := run(context.Background(), []string{"demo", "--root", "../..", "--students", "70", "--staff", "12", "--state", dir, "--time-scale", "600"}, environment{getenv: func(string) string { return "" }, stdout: &out, stderr: &bytes.Buffer{}})
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	for _, want := range []string{"(simulate): succeeded", "0 writes", "(apply): succeeded", "initial credentials sealed",
		// Day 2 to the users: the joiner, the surname change, the leaver;
		// and a classroom enrols the joiner.
		"users      succeeded: 1 creates, 1 updates, 1 deletes",
		"classrooms succeeded: 0 creates, 0 updates, 0 deletes, 0 member adds, 0 member removes, 0 unsynced, 0 errors, 0 writes",
		"enrol 0 teacher(s) and 1 member(s)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out.String())
		}
	}
	// It ends by printing where the last run's report is.
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	path := strings.TrimSpace(lines[len(lines)-1])
	if want := filepath.Join(dir, "report.html"); path != want {
		t.Fatalf("demo's last line = %q, want the report's path %s", path, want)
	}
	t.Run("report in a browser", func(t *testing.T) { checkDemoReport(t, dir, path) })
}
