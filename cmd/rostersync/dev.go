package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/rostersync/rostersync/internal/config"
	"github.com/rostersync/rostersync/internal/localstack"
	"github.com/rostersync/rostersync/internal/queue/membroker"
)

// runDev runs the whole stack on loopback, the way `func start` would.
func runDev(ctx context.Context, args []string, env environment) error {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	root := fs.String("root", ".", "folder holding host.json")
	functions := fs.String("functions", "functions", "folder holding the function folders")
	addr := fs.String("addr", "127.0.0.1:7071", "address of the HTTP functions (the host's port)")
	settings := fs.String("settings", "local.settings.json", "local settings file (Values), if it exists")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	getenv, err := loadLocalSettings(*settings, env.getenv)
	if err != nil {
		return err
	}
	log, err := newLogger(env.stderr, getenv)
	if err != nil {
		return err
	}
	backend, where, closeBackend, err := openBackend(getenv, ".state")
	if err != nil {
		return err
	}
	defer closeBackend()
	maxDelivery, err := config.LookupInt(getenv, config.SyncQueueMaxDelivery, 5)
	if err != nil {
		return err
	}
	stack, err := localstack.Start(ctx, localstack.Options{
		Root: *root, FunctionsDir: *functions, Backend: backend, Getenv: getenv,
		QueueName: queueName(getenv), HTTPAddr: *addr, FunctionKey: config.Lookup(getenv, config.APIKey, ""),
		Queue: membroker.QueueOptions{MaxDeliveryCount: maxDelivery, LockDuration: 5 * time.Minute, DuplicateDetectionWindow: time.Hour},
		Log:   log,
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "rostersync dev: state in %s, queue %s (in memory)\n", where, queueName(getenv))
	fmt.Fprintf(env.stdout, "  handler  %s\n  API      %s/api/health\n", stack.HandlerURL, stack.Host.URL())
	for _, f := range stack.Host.Functions() {
		trig, _ := f.Trigger()
		fmt.Fprintf(env.stdout, "  function %-10s %s %s%s\n", f.Name, trig.Type, trig.Schedule, trig.Route)
	}
	fmt.Fprintln(env.stdout, "Ctrl-C stops.")
	<-ctx.Done()
	fmt.Fprintln(env.stdout, "stopping")
	return stack.Stop()
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
	return envFromMap(f.Values, getenv), nil
}
