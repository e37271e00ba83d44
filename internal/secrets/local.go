package secrets

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// LocalOptions says where a Local source looks. Every field is optional;
// Secret looks in Values, then Dir, then the environment, and the first
// place that holds the name wins.
type LocalOptions struct {
	// Values are secrets held in memory, keyed by name. Key Vault names are
	// case-insensitive, so lookups here are too. NewLocal copies the map.
	Values map[string]string

	// Dir is a folder with one file per secret, named exactly as the secret
	// (the layout of Kubernetes and Docker secret mounts). One trailing
	// newline ("\n" or "\r\n") is removed from the content, because files
	// written with echo or an editor end with one. Empty means no folder.
	Dir string

	// EnvPrefix turns on environment lookups: the secret "graph-secret" with
	// EnvPrefix "ROSTERSYNC_SECRET_" is read from
	// ROSTERSYNC_SECRET_GRAPH_SECRET (upper case, '-' becomes '_'). A
	// variable that is set but empty counts as missing, since an empty
	// secret is almost always a configuration slip. Empty means no
	// environment lookups.
	EnvPrefix string

	// LookupEnv replaces os.LookupEnv, so tests need not touch the process
	// environment. Nil means os.LookupEnv.
	LookupEnv func(key string) (string, bool)
}

// Local is a Source for development and tests. It is safe for concurrent
// use; it never changes after NewLocal.
type Local struct {
	values    map[string]string // keys lower-cased
	dir       string
	envPrefix string
	lookupEnv func(string) (string, bool)
}

var _ Source = (*Local)(nil)

// NewLocal returns a Local source. It rejects Values keys that break Key
// Vault's naming rule, or that differ only in case, so a bad name fails at
// start-up rather than on first use.
func NewLocal(opts LocalOptions) (*Local, error) {
	l := &Local{
		values:    make(map[string]string, len(opts.Values)),
		dir:       opts.Dir,
		envPrefix: opts.EnvPrefix,
		lookupEnv: opts.LookupEnv,
	}
	if l.lookupEnv == nil {
		l.lookupEnv = os.LookupEnv
	}
	for name, v := range opts.Values {
		if err := ValidateName(name); err != nil {
			return nil, fmt.Errorf("local secrets: %w", err)
		}
		key := strings.ToLower(name)
		if _, dup := l.values[key]; dup {
			return nil, fmt.Errorf("local secrets: names differing only in case (%q): %w", name, ErrInvalidName)
		}
		l.values[key] = v
	}
	return l, nil
}

// Secret returns the named secret from the first place that holds it.
func (l *Local) Secret(ctx context.Context, name string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("secret %q: %w", name, err)
	}
	if err := ValidateName(name); err != nil {
		return "", err
	}
	if v, ok := l.values[strings.ToLower(name)]; ok {
		return v, nil
	}
	if l.dir != "" {
		v, ok, err := l.readFile(name)
		if err != nil {
			return "", err
		}
		if ok {
			return v, nil
		}
	}
	if l.envPrefix != "" {
		if v, ok := l.lookupEnv(l.envName(name)); ok && v != "" {
			return v, nil
		}
	}
	return "", fmt.Errorf("secret %q (%s): %w", name, l.describe(), ErrNotFound)
}

// readFile reports ok=false when the file does not exist. Other failures
// (permissions, name is a directory) are errors: they are misconfiguration
// that a fallback to the environment would hide.
func (l *Local) readFile(name string) (string, bool, error) {
	// ValidateName has already ruled out separators and dots, so the path
	// stays inside dir.
	p := filepath.Join(l.dir, name)
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		// The *PathError names the file; it never holds its content.
		return "", false, fmt.Errorf("secret %q: %w", name, err)
	}
	s := string(b)
	if t, ok := strings.CutSuffix(s, "\n"); ok {
		s = strings.TrimSuffix(t, "\r")
	}
	return s, true, nil
}

func (l *Local) envName(name string) string {
	return l.envPrefix + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// describe lists where the source looks, for error messages and String.
// It prints names and places only.
func (l Local) describe() string {
	var parts []string
	if len(l.values) > 0 {
		parts = append(parts, fmt.Sprintf("%d in memory", len(l.values)))
	}
	if l.dir != "" {
		parts = append(parts, "dir "+l.dir)
	}
	if l.envPrefix != "" {
		parts = append(parts, "env "+l.envPrefix+"*")
	}
	if len(parts) == 0 {
		return "empty"
	}
	return strings.Join(parts, ", ")
}

// String describes the source without any secret value, so a Local can be
// logged or printed.
//
// String, GoString and Format have value receivers so that they also cover
// a dereferenced Local: fmt would otherwise print its unexported fields,
// values included.
func (l Local) String() string { return "secrets.Local(" + l.describe() + ")" }

// GoString covers %#v.
func (l Local) GoString() string { return l.String() }

// Format makes every verb (%v, %+v, %s, %x, %d, ...) print String.
func (l Local) Format(f fmt.State, _ rune) { fmt.Fprint(f, l.String()) }
