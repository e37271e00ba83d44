package graphsim

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var listenRE = regexp.MustCompile(`listening on (http://\S+)/v1\.0`)

// startCommand runs RunCommand until the test ends and returns its base URL.
func startCommand(t *testing.T, args ...string) (string, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	done := make(chan error, 1)
	go func() { done <- RunCommand(ctx, append([]string{"--addr", "127.0.0.1:0"}, args...), &out, &errOut) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if m := listenRE.FindStringSubmatch(out.String()); m != nil {
			stop := func() error {
				cancel()
				select {
				case err := <-done:
					return err
				case <-time.After(5 * time.Second):
					t.Fatal("RunCommand did not stop on cancel")
					return nil
				}
			}
			t.Cleanup(func() { cancel() })
			return m[1], stop
		}
		select {
		case err := <-done:
			t.Fatalf("RunCommand exited: %v; stderr %s", err, errOut.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("RunCommand never listened; stdout %q stderr %q", out.String(), errOut.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func get(t *testing.T, url, token string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestCommands(t *testing.T) {
	dir := t.TempDir()
	statePath := filepath.Join(dir, "state.json")
	base, stop := startCommand(t, "--seed", "../../testdata/graphsim/tenants.json", "--time-scale", "60", "--state", statePath)
	if code := get(t, base+"/v1.0/users/"+ada, "sim:"+eduTenant); code != 200 {
		t.Fatalf("GET seeded user = %d", code)
	}

	extra := filepath.Join(dir, "extra.json")
	if err := os.WriteFile(extra, []byte(`{"tenants":[{"id":"cli-tenant","displayName":"CLI","edition":"business"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if err := SeedCommand(context.Background(), []string{"--to", base, extra}, &out, &errOut); err != nil {
		t.Fatalf("SeedCommand: %v (%s)", err, errOut.String())
	}
	if code := get(t, base+"/v1.0/domains", "sim:cli-tenant"); code != 200 {
		t.Fatalf("seeded tenant GET /domains = %d", code)
	}

	out.Reset()
	if err := ExportCommand(context.Background(), []string{"--from", base, "--tenant", eduTenant}, &out, &errOut); err != nil {
		t.Fatalf("ExportCommand --from: %v", err)
	}
	st, err := DecodeState(&out)
	if err != nil || len(st.Tenants) != 1 || len(st.Tenants[0].Users) != 3 {
		t.Fatalf("export = %+v, %v", st, err)
	}

	if err := stop(); err != nil {
		t.Fatalf("RunCommand returned %v after cancel", err)
	}
	// The state file holds every tenant and restarts the simulator.
	out.Reset()
	if err := ExportCommand(context.Background(), []string{"--state", statePath, "--tenant", "cli-tenant"}, &out, &errOut); err != nil {
		t.Fatalf("ExportCommand --state: %v", err)
	}
	if !strings.Contains(out.String(), `"id": "cli-tenant"`) {
		t.Errorf("state export = %s", out.String())
	}
	base2, stop2 := startCommand(t, "--state", statePath)
	if code := get(t, base2+"/v1.0/domains", "sim:cli-tenant"); code != 200 {
		t.Errorf("restarted simulator lost the seeded tenant: %d", code)
	}
	_ = stop2()

	for _, args := range [][]string{{"--bogus"}, {"extra-arg"}, {"--seed", filepath.Join(dir, "missing.json")}} {
		if err := RunCommand(context.Background(), args, &out, &errOut); err == nil {
			t.Errorf("RunCommand(%q) = nil, want an error", args)
		}
	}
	if err := ExportCommand(context.Background(), nil, &out, &errOut); err == nil {
		t.Errorf("ExportCommand without a source = nil, want an error")
	}
}
