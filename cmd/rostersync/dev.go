package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/rostersync/rostersync/internal/app"
	"github.com/rostersync/rostersync/internal/config"
	"github.com/rostersync/rostersync/internal/graphsim"
	"github.com/rostersync/rostersync/internal/state"
)

// runDev runs the whole product on loopback, the way `func start` would:
// every registered entity, against an embedded tenant simulator holding
// one simulated tenant per customer (created on first use with the
// customer's domains, or loaded from --seed), kept in the state folder.
func runDev(ctx context.Context, args []string, env environment) error {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	root := fs.String("root", "", "folder holding host.json and functions/ (default: found at or above the binary)")
	addr := fs.String("addr", "127.0.0.1:7071", "address of the HTTP functions (the host's port)")
	settings := fs.String("settings", "", "local settings file (Values), if it exists (default: local.settings.json in the root)")
	stateDir := fs.String("state", "", "state folder: the store, the simulated tenants, the credentials key and the feeds (default: the StateDir setting, else .state)")
	csvRoot := fs.String("csv-root", "", "folder of csv feeds, one folder per customer id (default: the CsvRoot setting, else STATE/feeds)")
	seed := fs.String("seed", "", "simulator seed `file` (the format `tenant export` prints) whose tenants are added when the state lacks them")
	timeScale := fs.Float64("time-scale", 1, "the simulated Graph runs this many times faster than real time (throttling windows, Retry-After, replication delays)")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected arguments %q", fs.Args())}
	}
	hostRoot, err := findRoot(*root, env)
	if err != nil {
		return err
	}
	if *settings == "" {
		*settings = filepath.Join(hostRoot, "local.settings.json")
	}
	getenv, err := loadLocalSettings(*settings, env.getenv)
	if err != nil {
		return err
	}
	log, err := newLogger(env.stderr, getenv)
	if err != nil {
		return err
	}
	dir := *stateDir
	if dir == "" {
		dir = config.Lookup(getenv, config.StateDir, ".state")
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return err
	}
	feeds := *csvRoot
	if feeds == "" {
		feeds = config.Lookup(getenv, config.CsvRoot, filepath.Join(dir, "feeds"))
	}
	if feeds, err = filepath.Abs(feeds); err != nil {
		return err
	}
	if err := os.MkdirAll(feeds, 0o755); err != nil {
		return err
	}
	var seedState *graphsim.State
	if *seed != "" {
		f, err := os.Open(*seed)
		if err != nil {
			return fmt.Errorf("--seed: %w", err)
		}
		st, err := graphsim.DecodeState(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("--seed %s: %w", *seed, err)
		}
		seedState = &st
	}
	// Table Storage (Azurite) when the settings name it; else the embedded
	// store in the state folder.
	var backend state.Backend
	where := "embedded store in " + filepath.Join(dir, storeDir)
	if config.Lookup(getenv, config.TablesConnection, "") != "" || config.Lookup(getenv, config.TablesEndpoint, "") != "" {
		b, desc, closeBackend, err := app.OpenBackend(getenv, "")
		if err != nil {
			return err
		}
		defer closeBackend()
		backend, where = b, desc
	}
	w, err := openWorld(ctx, worldOptions{dir: dir, root: hostRoot, timeScale: *timeScale, log: log, getenv: getenv,
		scheduler: true, httpAddr: *addr, functionKey: config.Lookup(getenv, config.APIKey, ""), backend: backend,
		csvRoot: feeds, seed: seedState})
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "rostersync dev: state in %s (%s), queue %s (in memory)\n", dir, where, app.QueueName(getenv))
	fmt.Fprintf(env.stdout, "  tenants  simulated in %s, one per customer's tenantId, created on first use with its domains\n", filepath.Join(dir, simTenantFile))
	fmt.Fprintf(env.stdout, "  feeds    %s/{customerId}/ (a profile's csv path is relative to its customer's folder)\n", feeds)
	fmt.Fprintf(env.stdout, "  entities %v\n", app.EntityNames())
	fmt.Fprintf(env.stdout, "  handler  %s\n  API      %s/api/health\n", w.stack.HandlerURL, w.stack.Host.URL())
	for _, f := range w.stack.Host.Functions() {
		trig, _ := f.Trigger()
		fmt.Fprintf(env.stdout, "  function %-10s %s %s%s\n", f.Name, trig.Type, trig.Schedule, trig.Route)
	}
	fmt.Fprintln(env.stdout, "Ctrl-C stops.")
	<-ctx.Done()
	fmt.Fprintln(env.stdout, "stopping")
	return w.close()
}

// loadLocalSettings layers local.settings.json's Values over the
// environment, as Core Tools does; a missing file is fine.
func loadLocalSettings(path string, getenv func(string) string) (func(string) string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return getenv, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	var f struct{ Values map[string]string }
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	return app.EnvFromMap(f.Values, getenv), nil
}
