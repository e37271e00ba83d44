package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/rostersync/rostersync/internal/config"
	"github.com/rostersync/rostersync/internal/pipeline"
	"github.com/rostersync/rostersync/internal/queue"
	"github.com/rostersync/rostersync/internal/queue/servicebus"
	"github.com/rostersync/rostersync/internal/state"
	"github.com/rostersync/rostersync/internal/state/blobstore"
	"github.com/rostersync/rostersync/internal/state/embedded"
	"github.com/rostersync/rostersync/internal/state/tablestore"
)

// OpenBackend picks the state backend from the settings: a Table Storage
// connection string (Azurite), a Table Storage endpoint with the managed
// identity (either with plan bodies in Blob Storage when
// BlobsConnectionString or BlobsEndpoint is set), or else the embedded
// store in StateDir (defaultDir when the setting is empty). It returns a
// description for the start-up line and the backend's close.
func OpenBackend(getenv func(string) string, defaultDir string) (state.Backend, string, func() error, error) {
	if cs := config.Lookup(getenv, config.TablesConnection, ""); cs != "" {
		b, err := tablestore.FromConnectionString(cs)
		if err != nil {
			return nil, "", nil, fmt.Errorf("setting %s: %w", config.TablesConnection, err)
		}
		return withPlanBlobs(getenv, b, "table storage (connection string)")
	}
	if ep := config.Lookup(getenv, config.TablesEndpoint, ""); ep != "" {
		cred, err := managedIdentity(getenv)
		if err != nil {
			return nil, "", nil, err
		}
		b, err := tablestore.New(ep, cred)
		if err != nil {
			return nil, "", nil, fmt.Errorf("setting %s: %w", config.TablesEndpoint, err)
		}
		return withPlanBlobs(getenv, b, "table storage "+ep)
	}
	dir := config.Lookup(getenv, config.StateDir, defaultDir)
	b, err := embedded.Open(dir)
	if err != nil {
		return nil, "", nil, fmt.Errorf("open embedded state in %s: %w", dir, err)
	}
	return b, "embedded store in " + dir, b.Close, nil
}

// withPlanBlobs keeps the plan bodies of a Table Storage backend in Blob
// Storage (container state.BlobContainer) when the settings name one, as
// production does; without, they are cut into rows of the blobs table.
// The embedded store keeps its own bodies beside its tables, so a blob
// setting in a local run only feeds blob roster sources.
func withPlanBlobs(getenv func(string) string, b state.Backend, desc string) (state.Backend, string, func() error, error) {
	noClose := func() error { return nil }
	acct, where, err := OpenBlobs(getenv)
	if err != nil || acct == nil {
		return b, desc, noClose, err
	}
	blobs, err := acct.Blobs(state.BlobContainer)
	if err != nil {
		return nil, "", nil, err
	}
	return state.WithBlobs(b, blobs), desc + ", plan bodies in " + where, noClose, nil
}

// OpenBlobs opens Blob Storage from the settings: a connection string
// (Azurite), an endpoint with the managed identity, or nil when neither is
// set. It returns a description for the start-up line. Nothing is sent
// until the account is used.
func OpenBlobs(getenv func(string) string) (*blobstore.Account, string, error) {
	if cs := config.Lookup(getenv, config.BlobsConnection, ""); cs != "" {
		a, err := blobstore.FromConnectionString(cs)
		if err != nil {
			return nil, "", fmt.Errorf("setting %s: %w", config.BlobsConnection, err)
		}
		return a, "blob storage (connection string)", nil
	}
	if ep := config.Lookup(getenv, config.BlobsEndpoint, ""); ep != "" {
		cred, err := managedIdentity(getenv)
		if err != nil {
			return nil, "", err
		}
		a, err := blobstore.New(ep, cred)
		if err != nil {
			return nil, "", fmt.Errorf("setting %s: %w", config.BlobsEndpoint, err)
		}
		return a, "blob storage " + ep, nil
	}
	return nil, "", nil
}

func managedIdentity(getenv func(string) string) (*azidentity.ManagedIdentityCredential, error) {
	opts := &azidentity.ManagedIdentityCredentialOptions{}
	if id := config.Lookup(getenv, config.ManagedIdentityClient, ""); id != "" {
		opts.ID = azidentity.ClientID(id)
	}
	cred, err := azidentity.NewManagedIdentityCredential(opts)
	if err != nil {
		return nil, fmt.Errorf("managed identity (%s): %w", config.ManagedIdentityClient, err)
	}
	return cred, nil
}

// errNoServiceBus is what a handler without a Service Bus setting answers
// when it has to send: it can serve readiness and idle ticks, not fan out.
var errNoServiceBus = errors.New("no Service Bus configured: set " + config.ServiceBusNamespace + " (or " + config.ServiceBusConnString + "), or use `rostersync dev`")

func unconfiguredSender() queue.Sender {
	return queue.SenderFunc(func(ctx context.Context, msgs ...queue.Message) error { return errNoServiceBus })
}

// QueueName is the job queue's name (SyncQueueName).
func QueueName(getenv func(string) string) string {
	return config.Lookup(getenv, config.SyncQueueName, "sync-jobs")
}

// MaxDeliveryCount is the job queue's (SyncQueueMaxDeliveryCount); the
// runner must know it to mark the last delivery's failure final.
func MaxDeliveryCount(getenv func(string) string) (int, error) {
	return config.LookupInt(getenv, config.SyncQueueMaxDelivery, 5)
}

// EnvFromMap layers settings over the process environment.
func EnvFromMap(values map[string]string, fallback func(string) string) func(string) string {
	return func(k string) string {
		if v, ok := values[k]; ok && strings.TrimSpace(v) != "" {
			return v
		}
		return fallback(k)
	}
}

// OpenSender picks the job queue sender: Service Bus by namespace with the
// managed identity, by connection string, or none (the handler then serves
// readiness and idle ticks but cannot fan out, and says so).
func OpenSender(ctx context.Context, getenv func(string) string) (queue.Sender, string, func() error, error) {
	name := QueueName(getenv)
	if cs := config.Lookup(getenv, config.ServiceBusConnString, ""); cs != "" {
		s, err := servicebus.NewFromConnectionString(cs, name, nil)
		if err != nil {
			return nil, "", nil, fmt.Errorf("setting %s: %w", config.ServiceBusConnString, err)
		}
		return s, "service bus queue " + name + " (connection string)", func() error { return s.Close(context.Background()) }, nil
	}
	if ns := config.Lookup(getenv, config.ServiceBusNamespace, ""); ns != "" {
		cred, err := managedIdentity(getenv)
		if err != nil {
			return nil, "", nil, err
		}
		s, err := servicebus.New(ns, cred, name, nil)
		if err != nil {
			return nil, "", nil, fmt.Errorf("setting %s: %w", config.ServiceBusNamespace, err)
		}
		return s, "service bus " + ns + " queue " + name, func() error { return s.Close(context.Background()) }, nil
	}
	return unconfiguredSender(), "none (no Service Bus setting)", func() error { return nil }, nil
}

// runBounds reads the caps that make every run end: steps per entity and
// how long a run may go without progress.
func runBounds(getenv func(string) string) (pipeline.Options, error) {
	steps, err := config.LookupInt(getenv, config.MaxStepsPerEntity, 1000)
	if err != nil || steps < 1 {
		return pipeline.Options{}, fmt.Errorf("setting %s: want a whole number of at least 1 (%v)", config.MaxStepsPerEntity, err)
	}
	stall, err := config.LookupInt(getenv, config.StallMinutes, 120)
	if err != nil || stall < 1 {
		return pipeline.Options{}, fmt.Errorf("setting %s: want a whole number of minutes, at least 1 (%v)", config.StallMinutes, err)
	}
	return pipeline.Options{MaxSteps: steps, StallAfter: time.Duration(stall) * time.Minute}, nil
}
