package main

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestServeIsReadyBeforeKeyVault: with a Key Vault nobody answers, serve
// still answers GET / at once, and its INFO lines go to stdout only.
func TestServeIsReadyBeforeKeyVault(t *testing.T) {
	port := freePort(t)
	env := map[string]string{"FUNCTIONS_CUSTOMHANDLER_PORT": port, "StateDir": t.TempDir(), "KeyVaultUri": "https://127.0.0.1:1/", "GraphAuthMode": "secret"}
	var stdout, stderr syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		done <- run(ctx, []string{"serve"}, environment{getenv: func(k string) string { return env[k] }, stdout: &stdout, stderr: &stderr})
	}()
	var resp *http.Response
	var err error
	for time.Since(start) < 5*time.Second {
		if resp, err = http.Get("http://127.0.0.1:" + port + "/"); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("GET / never answered: %v; stderr: %s", err, stderr.String())
	}
	resp.Body.Close()
	if waited := time.Since(start); resp.StatusCode != http.StatusOK || waited > 2*time.Second {
		t.Errorf("GET / = %d after %s, want 200 at once", resp.StatusCode, waited)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("serve returned %v", err)
	}
	if strings.Contains(stderr.String(), "level=INFO") || !strings.Contains(stdout.String(), "custom handler listening") {
		t.Errorf("INFO lines must go to stdout only:\nstdout: %s\nstderr: %s", stdout.String(), stderr.String())
	}
}

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
