package graphsim

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// RunCommand implements "rostersync graphsim": it serves the simulator on
// --addr until ctx is cancelled.
//
//	graphsim --addr 127.0.0.1:PORT [--seed FILE]... [--time-scale N] [--state FILE]
//	         [--latency-read D] [--latency-write D] [--consistency-delay D]
//	         [--team-replication-delay D] [--team-provisioning-delay D]
//	         [--integer-retry-after] [--no-throttle] [--fsync]
//
// --state makes the simulator durable as Microsoft 365 is: the file (a
// snapshot in the seed format) and its write log FILE.log are loaded at
// start, every accepted write is appended to the log before it is answered,
// and the snapshot is rewritten only at start and shutdown (see
// [Server.Persist]); a killed simulator restarts with every write it
// answered. A --seed tenant already in the state is kept as persisted, so a
// restart with the same flags does not roll the tenant back. It prints one
// line "graphsim listening on http://ADDR/v1.0 tenants=..." to stdout once
// it accepts connections.
func RunCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("graphsim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8990", "listen address (loopback)")
	var seeds stringList
	fs.Var(&seeds, "seed", "seed `file` (repeatable): tenants to load at start")
	scale := fs.Float64("time-scale", 1, "divide every window, latency and delay by `N`")
	statePath := fs.String("state", "", "state `file`: loaded at start if present; every accepted write is appended to FILE.log")
	fsync := fs.Bool("fsync", false, "with --state, sync the write log to disk before answering each write (survives power loss, not only a kill)")
	latR := fs.Duration("latency-read", 0, "added latency per GET, Graph time")
	latW := fs.Duration("latency-write", 0, "added latency per write, Graph time")
	cons := fs.Duration("consistency-delay", 0, "eventual-consistency delay for new objects (0 = default 2s, negative = off)")
	teamRep := fs.Duration("team-replication-delay", 0, "team-from-group 404 window (0 = default 15m, negative = off)")
	teamProv := fs.Duration("team-provisioning-delay", 0, "team async operation duration (0 = default 20s, negative = instant)")
	intRA := fs.Bool("integer-retry-after", false, "send Retry-After as whole seconds")
	noThrottle := fs.Bool("no-throttle", false, "turn throttling off")
	eduCharge := fs.Bool("education-writes-charge-directory", false, "also charge education writes to the directory write quotas (undocumented either way; a guess)")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("graphsim: %w", err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("graphsim: unexpected arguments %q", fs.Args())
	}
	opts := Options{
		TimeScale:             *scale,
		Latency:               Latency{Read: *latR, Write: *latW},
		ConsistencyDelay:      *cons,
		TeamReplicationDelay:  *teamRep,
		TeamProvisioningDelay: *teamProv,
		IntegerRetryAfter:     *intRA,
	}
	if *noThrottle || *eduCharge {
		l := DefaultLimits()
		l.Disabled = *noThrottle
		l.EducationWritesChargeDirectory = *eduCharge
		opts.Limits = &l
	}
	srv := New(opts)
	persisted := map[string]bool{}
	if *statePath != "" {
		warn := func(msg string) { fmt.Fprintln(stderr, "graphsim: warning:", msg) }
		st, _, err := ReadDurableState(*statePath, warn)
		if err != nil {
			return fmt.Errorf("graphsim: %w", err)
		}
		if err := srv.Load(st); err != nil {
			return fmt.Errorf("graphsim: load %s: %w", *statePath, err)
		}
		for _, id := range srv.TenantIDs() {
			persisted[id] = true
		}
	}
	for _, p := range seeds {
		st, err := ReadStateFile(p)
		if err != nil {
			return fmt.Errorf("graphsim: %w", err)
		}
		kept := st.Tenants[:0]
		for _, ts := range st.Tenants {
			if persisted[strings.ToLower(ts.ID)] {
				fmt.Fprintf(stderr, "graphsim: seed %s: tenant %s kept as persisted in %s\n", p, ts.ID, *statePath)
				continue
			}
			kept = append(kept, ts)
		}
		st.Tenants = kept
		if err := srv.Load(st); err != nil {
			return fmt.Errorf("graphsim: seed %s: %w", p, err)
		}
	}
	if *statePath != "" {
		if err := srv.Persist(*statePath, PersistOptions{Fsync: *fsync}); err != nil {
			return fmt.Errorf("graphsim: %w", err)
		}
		defer srv.Close()
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("graphsim: listen %s: %w", *addr, err)
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, "graphsim listening on http://%s/v1.0 tenants=%s\n", ln.Addr(), strings.Join(srv.TenantIDs(), ","))
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("graphsim: serve: %w", err)
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = hs.Shutdown(shutCtx)
	if err := srv.Close(); err != nil {
		return fmt.Errorf("graphsim: %w", err)
	}
	return nil
}

func writeStateFile(path string, st State) error {
	var buf bytes.Buffer
	if err := WriteState(&buf, st); err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("write state %s: %w", path, err)
	}
	_, err = f.Write(buf.Bytes())
	if err == nil {
		// On disk before the rename, so a crash leaves the old file or
		// the whole new one.
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write state %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write state %s: %w", path, err)
	}
	return nil
}

// ExportCommand implements "rostersync tenant export": it writes a
// tenant's (or every tenant's) full state as seed-format JSON.
//
//	tenant export (--from http://127.0.0.1:PORT | --state FILE) [--tenant ID] [--out FILE]
//
// --from reads a running simulator's /_sim/export; --state reads a state
// file written by "graphsim --state" with its write log replayed (so it
// works on a simulator that was killed, or is still running). Output goes
// to --out or stdout.
func ExportCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tenant export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	from := fs.String("from", "", "simulator base `URL`, e.g. http://127.0.0.1:8990")
	statePath := fs.String("state", "", "state `file` to read instead of a running simulator")
	tenantID := fs.String("tenant", "", "tenant `id` to export (default all)")
	out := fs.String("out", "", "output `file` (default stdout)")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("tenant export: %w", err)
	}
	if (*from == "") == (*statePath == "") {
		return errors.New("tenant export: give exactly one of --from or --state")
	}
	var st State
	var err error
	if *from != "" {
		st, err = fetchExport(ctx, *from, *tenantID)
	} else {
		var found bool
		st, found, err = ReadDurableState(*statePath, func(msg string) { fmt.Fprintln(stderr, "tenant export: warning:", msg) })
		if err == nil && !found {
			err = fmt.Errorf("read state: %w", os.ErrNotExist)
		}
		if err == nil && *tenantID != "" {
			st, err = onlyTenant(st, *tenantID)
		}
	}
	if err != nil {
		return fmt.Errorf("tenant export: %w", err)
	}
	if *out != "" {
		if err := writeStateFile(*out, st); err != nil {
			return fmt.Errorf("tenant export: %w", err)
		}
		return nil
	}
	if err := WriteState(stdout, st); err != nil {
		return fmt.Errorf("tenant export: %w", err)
	}
	return nil
}

// SeedCommand implements "rostersync tenant seed": it loads seed files
// into a running simulator.
//
//	tenant seed --to http://127.0.0.1:PORT FILE...
func SeedCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tenant seed", flag.ContinueOnError)
	fs.SetOutput(stderr)
	to := fs.String("to", "", "simulator base `URL`, e.g. http://127.0.0.1:8990")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("tenant seed: %w", err)
	}
	if *to == "" || fs.NArg() == 0 {
		return errors.New("tenant seed: want --to URL and at least one seed file")
	}
	for _, p := range fs.Args() {
		b, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("tenant seed: %w", err)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(*to, "/")+"/_sim/tenants", bytes.NewReader(b))
		if err != nil {
			return fmt.Errorf("tenant seed %s: %w", p, err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return fmt.Errorf("tenant seed %s: %w", p, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("tenant seed %s: simulator said %s: %s", p, resp.Status, strings.TrimSpace(string(body)))
		}
		fmt.Fprintf(stdout, "%s: %s", p, body)
	}
	return nil
}

func fetchExport(ctx context.Context, base, tenantID string) (State, error) {
	u := strings.TrimRight(base, "/") + "/_sim/export"
	if tenantID != "" {
		u += "?tenant=" + tenantID
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return State{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return State{}, fmt.Errorf("fetch %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return State{}, fmt.Errorf("fetch %s: %s: %s", u, resp.Status, strings.TrimSpace(string(b)))
	}
	return DecodeState(resp.Body)
}

func onlyTenant(st State, id string) (State, error) {
	for _, t := range st.Tenants {
		if strings.EqualFold(t.ID, id) {
			return State{FormatVersion: StateFormatVersion, Tenants: []TenantState{t}}, nil
		}
	}
	return State{}, fmt.Errorf("no tenant %q in state", id)
}
