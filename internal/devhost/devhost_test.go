package devhost

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadRepositoryFunctions(t *testing.T) {
	fns, err := LoadFunctions("../../functions")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range fns {
		trig, _ := f.Trigger()
		got[f.Name] = trig.Type
	}
	want := map[string]string{"Api": "httpTrigger", "Scheduler": "timerTrigger", "SyncJob": "serviceBusTrigger"}
	for name, typ := range want {
		if got[name] != typ {
			t.Errorf("function %s trigger = %q, want %q", name, got[name], typ)
		}
	}
	hc, err := LoadHostConfig("../../host.json")
	if err != nil {
		t.Fatal(err)
	}
	if hc.RoutePrefix() != "api" || !hc.Proxying() || hc.Extensions.ServiceBus.MaxConcurrentSessions < 1 {
		t.Errorf("host.json = %+v", hc)
	}
}

func TestLoadFunctionsErrors(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"empty folder", nil, "no */function.json"},
		{"broken json", map[string]string{"Timer/function.json": `{"bindings":[`}, "parse"},
		{"no trigger", map[string]string{"Out/function.json": `{"bindings":[{"type":"http","direction":"out","name":"res"}]}`}, "no trigger"},
		{"bad name", map[string]string{"9lives/function.json": `{"bindings":[{"type":"timerTrigger","direction":"in","name":"t"}]}`}, "not a valid function name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for p, body := range tt.files {
				full := filepath.Join(dir, p)
				if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(full, []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			_, err := LoadFunctions(dir)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("LoadFunctions = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestResolveSettings(t *testing.T) {
	env := map[string]string{"SyncQueueName": "sync-jobs"}
	get := func(k string) string { return env[k] }
	if got, err := ResolveSettings("%SyncQueueName%", get); err != nil || got != "sync-jobs" {
		t.Errorf("ResolveSettings = %q, %v", got, err)
	}
	if got, err := ResolveSettings("plain", get); err != nil || got != "plain" {
		t.Errorf("ResolveSettings(plain) = %q, %v", got, err)
	}
	if _, err := ResolveSettings("%Missing%", get); err == nil || !strings.Contains(err.Error(), "Missing") {
		t.Errorf("ResolveSettings(%%Missing%%) = %v, want an error naming it", err)
	}
}

func TestParseTimeSpan(t *testing.T) {
	tests := map[string]time.Duration{"00:30:00": 30 * time.Minute, "01:00:05": time.Hour + 5*time.Second, "00:00:00.80": 800 * time.Millisecond}
	for in, want := range tests {
		if got, err := parseTimeSpan(in); err != nil || got != want {
			t.Errorf("parseTimeSpan(%q) = %v, %v, want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "30m", "a:b:c"} {
		if _, err := parseTimeSpan(bad); err == nil {
			t.Errorf("parseTimeSpan(%q) accepted", bad)
		}
	}
}

// TestRefusesWhatTheHostRefuses: configuration the Functions host would
// not start with is refused here too.
func TestRefusesWhatTheHostRefuses(t *testing.T) {
	const goodHost = `{"version":"2.0","customHandler":{"description":{"defaultExecutablePath":"rostersync"},"enableProxyingHttpRequest":true},"functionTimeout":"00:30:00"}`
	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"no version", map[string]string{"host.json": `{"customHandler":{"description":{"defaultExecutablePath":"x"}}}`}, "version"},
		{"old version", map[string]string{"host.json": strings.Replace(goodHost, `"2.0"`, `"1.0"`, 1)}, "version"},
		{"no executable", map[string]string{"host.json": `{"version":"2.0","customHandler":{"description":{}}}`}, "defaultExecutablePath"},
		{"bad timeout", map[string]string{"host.json": strings.Replace(goodHost, "00:30:00", "30m", 1)}, "functionTimeout"},
		{"two triggers", map[string]string{"host.json": goodHost, "F/function.json": `{"bindings":[{"name":"a","type":"timerTrigger","direction":"in","schedule":"0 * * * * *"},{"name":"b","type":"timerTrigger","direction":"in","schedule":"0 * * * * *"}]}`}, "2 trigger bindings"},
		{"duplicate names", map[string]string{"host.json": goodHost, "F/function.json": `{"bindings":[{"name":"req","type":"httpTrigger","direction":"in"},{"name":"REQ","type":"http","direction":"out"}]}`}, "used twice"},
		{"bad authLevel", map[string]string{"host.json": goodHost, "F/function.json": `{"bindings":[{"name":"req","type":"httpTrigger","direction":"in","authLevel":"user"},{"name":"res","type":"http","direction":"out"}]}`}, "authLevel"},
		{"queue trigger without connection", map[string]string{"host.json": goodHost, "F/function.json": `{"bindings":[{"name":"m","type":"serviceBusTrigger","direction":"in","queueName":"q"}]}`}, "connection"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for p, body := range tt.files {
				full := filepath.Join(dir, p)
				if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(full, []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			_, err := LoadHostConfig(filepath.Join(dir, "host.json"))
			if err == nil {
				_, err = LoadFunctions(dir)
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("load = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestConsoleLevel(t *testing.T) {
	tests := []struct {
		line   string
		stderr bool
		want   slog.Level
	}{
		{`level=INFO msg="error count 0"`, false, slog.LevelInfo},
		{`level=WARN msg=throttled`, true, slog.LevelWarn},
		{`level=ERROR msg="job failed"`, true, slog.LevelError},
		{`panic: boom`, true, slog.LevelError},
	}
	for _, tt := range tests {
		if got := ConsoleLevel(tt.line, tt.stderr); got != tt.want {
			t.Errorf("ConsoleLevel(%q, stderr=%t) = %v, want %v", tt.line, tt.stderr, got, tt.want)
		}
	}
}
