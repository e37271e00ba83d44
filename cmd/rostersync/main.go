// Command rostersync is the whole product in one binary: the Azure Functions
// custom handler (serve), a local Functions host (dev), the demo, and the
// tools around them.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	_ "time/tzdata" // profiles name IANA zones; do not depend on the host's tzdata
)

type command struct {
	name, summary string
	run           func(ctx context.Context, args []string, env environment) error
}

// environment is what a command may touch of the process: no command reads
// os.Getenv or writes os.Stdout directly, so tests can run them.
type environment struct {
	getenv func(string) string
	stdout io.Writer
	stderr io.Writer
	// executable is the running binary's path (os.Executable when nil);
	// commands find their host files from it (findRoot).
	executable func() (string, error)
}

func commands() []command {
	return []command{
		{"serve", "run as the Azure Functions custom handler (listens on FUNCTIONS_CUSTOMHANDLER_PORT)", runServe},
		{"dev", "run the whole stack locally, like `func start`: timers, queue, HTTP API", runDev},
		{"demo", "sync a sample school end to end and print a readable report", runDemo},
		{"sync", "one sync of a OneRoster feed into a simulated tenant kept in a folder (--roster, --state, --entities, --edition, --format, --session, --today)", runSync},
		{"links", "print an entity's links kept in a state folder (--state, --entity, --json)", runLinks},
		{"tenant", "tenant export (--state DIR | --from URL): print a simulated tenant", runTenant},
		{"sample", "write a generated UK secondary school as a OneRoster CSV feed", runSample},
		{"graphsim", "serve the Microsoft Graph tenant simulator (--addr 127.0.0.1:PORT)", runGraphsim},
		{"settings", "print local.settings.json.example (every setting the code reads, explained)", runSettings},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	env := environment{getenv: os.Getenv, stdout: os.Stdout, stderr: os.Stderr, executable: os.Executable}
	if err := run(ctx, os.Args[1:], env); err != nil {
		fmt.Fprintln(os.Stderr, "rostersync:", err)
		os.Exit(int(exitStatusOf(err)))
	}
}

// exitStatus is the process exit status; scripts rely on these values.
type exitStatus int

const (
	exitOK exitStatus = 0
	// exitFailed: the command failed, was cancelled, or the run it drove
	// failed (or partly failed).
	exitFailed exitStatus = 1
	exitUsage  exitStatus = 2
	// exitHeld: the run applied what was safe and a guard holds the rest
	// for confirmation.
	exitHeld exitStatus = 3
)

// exitStatusOf maps an error run returned to the exit status.
func exitStatusOf(err error) exitStatus {
	if err == nil {
		return exitOK
	}
	var u usageError
	if errors.As(err, &u) {
		return exitUsage
	}
	var s interface{ exitStatus() exitStatus }
	if errors.As(err, &s) {
		return s.exitStatus()
	}
	return exitFailed
}

type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

func run(ctx context.Context, args []string, env environment) error {
	tuneGC()
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(env.stdout)
		if len(args) == 0 {
			return usageError{"no command given"}
		}
		return nil
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], env)
		}
	}
	usage(env.stderr)
	return usageError{fmt.Sprintf("unknown command %q", args[0])}
}

// gcPercent is the collector's target the commands run with unless GOGC
// says otherwise. A run holds a whole trust's roster, view and plan at
// once; collecting at 200% rather than Go's 100% measured 3.7–4.4 s and
// 708–768 MB peak for a 100,000-person simulate, against 4.0–4.7 s and
// 700 MB (BenchmarkTrustSimulate, three runs each on an idle 2-core
// machine): well inside the 1 GB the runs are sized for.
const gcPercent = 200

// tuneGC sets gcPercent, leaving a GOGC the operator chose in force.
func tuneGC() {
	if prev := debug.SetGCPercent(gcPercent); prev != 100 && prev != gcPercent {
		debug.SetGCPercent(prev)
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: rostersync COMMAND [flags]\n\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
}
