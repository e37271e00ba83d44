package config

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite local.settings.json.example")

func TestExampleFileIsCurrent(t *testing.T) {
	want, err := ExampleFile()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("..", "..", "local.settings.json.example")
	if *update {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is out of date with config.Settings; run: go test ./internal/config -update", path)
	}
}

func TestSettingsAreUniqueAndExplained(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range Settings {
		if seen[s.Name] {
			t.Errorf("setting %s listed twice", s.Name)
		}
		seen[s.Name] = true
		if len(s.Help) < 20 {
			t.Errorf("setting %s has no real explanation: %q", s.Name, s.Help)
		}
	}
}

func TestLookupInt(t *testing.T) {
	env := map[string]string{"A": "7", "B": "x", "C": " "}
	get := func(k string) string { return env[k] }
	if n, err := LookupInt(get, "A", 1); err != nil || n != 7 {
		t.Errorf("LookupInt(A) = %d, %v, want 7", n, err)
	}
	if _, err := LookupInt(get, "B", 1); err == nil {
		t.Error("LookupInt(B) accepted a non-number")
	}
	if n, err := LookupInt(get, "C", 3); err != nil || n != 3 {
		t.Errorf("LookupInt(C) = %d, %v, want the default 3", n, err)
	}
}
