// Package localstack assembles rostersync the way Azure runs it, on one
// machine: the custom handler serving on a loopback port, the local
// Functions host (internal/devhost) invoking it over HTTP, the in-memory
// broker standing in for Service Bus, and a state backend (embedded, or
// Table Storage on Azurite). The handler it runs is the product as
// internal/app builds it. `rostersync dev`, demo, sync and the end-to-end
// tests all start it, so they exercise the production code path.
package localstack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/rostersync/rostersync/handlers"
	"github.com/rostersync/rostersync/internal/clock"
	"github.com/rostersync/rostersync/internal/devhost"
	"github.com/rostersync/rostersync/internal/queue"
	"github.com/rostersync/rostersync/internal/queue/membroker"
)

// Options configure a stack.
type Options struct {
	// Root holds host.json and the function folders (FunctionsDir, when
	// set, overrides where the folders are).
	Root, FunctionsDir string
	Clock              clock.Clock
	Getenv             func(string) string
	// QueueName is the job queue (the SyncQueueName setting).
	QueueName string
	// Queue are the broker queue's properties (sessions come from
	// function.json).
	Queue membroker.QueueOptions
	// HTTPAddr is the public address of the HTTP functions ("" = off).
	HTTPAddr    string
	FunctionKey string
	// Handler builds the custom handler — the whole product, assembled by
	// internal/app — over the broker's sender for QueueName, logging to
	// log, which the local host reads as the Functions host reads a custom
	// handler's stdout and stderr.
	Handler func(ctx context.Context, sender queue.Sender, log *slog.Logger) (http.Handler, error)
	Log     *slog.Logger
}

// Stack is a running local deployment.
type Stack struct {
	Broker *membroker.Broker
	Host   *devhost.Host
	// HandlerURL is the custom handler's loopback base URL.
	HandlerURL string

	handlerSrv *http.Server
	cancel     context.CancelFunc
	hostDone   sync.WaitGroup
	serveDone  sync.WaitGroup
	runErr     error
}

// Start brings the stack up; Stop takes it down.
func Start(ctx context.Context, opts Options) (*Stack, error) {
	if opts.Handler == nil {
		return nil, errors.New("localstack: no handler to run")
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.QueueName == "" {
		opts.QueueName = "sync-jobs"
	}
	getenv := opts.Getenv
	opts.Getenv = func(k string) string {
		if k == "SyncQueueName" {
			return opts.QueueName
		}
		if getenv != nil {
			return getenv(k)
		}
		return ""
	}

	s := &Stack{Broker: membroker.New(opts.Clock)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for the handler: %w", err)
	}
	s.HandlerURL = "http://" + ln.Addr().String()
	host, err := devhost.New(devhost.Options{Root: opts.Root, FunctionsDir: opts.FunctionsDir, HandlerURL: s.HandlerURL,
		Broker: s.Broker, QueueOptions: opts.Queue, Clock: opts.Clock, Getenv: opts.Getenv,
		HTTPAddr: opts.HTTPAddr, FunctionKey: opts.FunctionKey, Log: opts.Log})
	if err != nil {
		_ = ln.Close()
		return nil, err
	}
	// The handler writes its log to stdout and stderr, as `serve` does, and
	// the local host reads those streams the way the Functions host reads a
	// custom handler's (INFO lines Information, stderr lines Error or
	// Warning).
	hlog := slog.New(handlers.NewLogHandler(host.Stdout(), host.Stderr(), nil))
	handler, err := opts.Handler(ctx, s.Broker.Sender(opts.QueueName), hlog)
	if err != nil {
		_ = ln.Close()
		return nil, err
	}
	s.handlerSrv = &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	s.serveDone.Go(func() {
		if err := s.handlerSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			opts.Log.Error("handler server stopped", "error", err)
		}
	})

	if err := host.Start(); err != nil {
		_ = s.handlerSrv.Close()
		return nil, err
	}
	s.Host = host
	hostCtx, cancel := context.WithCancel(ctx)
	s.cancel = cancel
	s.hostDone.Go(func() { s.runErr = host.Run(hostCtx) })
	return s, nil
}

// Stop ends the host, then the handler, and waits for both. The host is
// the handler's only client (HTTP API calls reach it through the host's
// forwarder), so once the host has stopped nothing is in flight and the
// handler can be closed outright; a graceful Shutdown would instead wait
// out connections the host's client dialled but never used.
func (s *Stack) Stop() error {
	s.cancel()
	s.hostDone.Wait()
	err := s.handlerSrv.Close()
	s.serveDone.Wait()
	return errors.Join(err, s.runErr)
}
