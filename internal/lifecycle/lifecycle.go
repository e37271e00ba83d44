// Package lifecycle ends a customer's configuration and forgets what the
// service kept of it: "Remove configuration" disconnects the customer,
// cancels its runs and destroys its sealed passwords at once; its links,
// runs and logs are purged a retention later by the scheduler's tick,
// which also purges every customer's plans past the same retention.
package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/rostersync/rostersync/internal/pipeline"
	"github.com/rostersync/rostersync/internal/runs"
	"github.com/rostersync/rostersync/internal/state"
	"github.com/rostersync/rostersync/internal/tenant"
)

// DefaultRetention is how long a removed customer's links, runs, logs
// and audit trail, and anyone's plans, are kept.
const DefaultRetention = 90 * 24 * time.Hour

// AuditRetention is how long a connected customer's audit trail is kept:
// a school asks "who excluded this pupil?" about last term or last year,
// long after the plans are gone, and the trail holds ids only. A removed
// customer's goes with the rest of its data after DefaultRetention.
const AuditRetention = 365 * 24 * time.Hour

// Store is the state lifecycle reads and deletes; *state.Store has it.
type Store interface {
	GetCustomer(ctx context.Context, id string) (tenant.Customer, error)
	PutCustomer(ctx context.Context, c tenant.Customer) error
	ListCustomers(ctx context.Context) ([]tenant.Customer, error)
	GetRun(ctx context.Context, customerID, runID string) (runs.Run, error)
	ListRuns(ctx context.Context, customerID, profileID string, limit int) ([]runs.Run, error)
	SaveRun(ctx context.Context, r runs.Run) (runs.Run, error)
	AppendRunLog(ctx context.Context, customerID, runID string, entries ...runs.LogEntry) error
	PurgeCustomer(ctx context.Context, customerID string) (map[string]int, error)
	PurgePlans(ctx context.Context, cutoff time.Time) (int, error)
	PurgeAudit(ctx context.Context, customerID string, cutoff time.Time) (int, error)
}

var _ Store = (*state.Store)(nil)

// Vault destroys a customer's sealed initial passwords;
// *credentials.Vault has it.
type Vault interface {
	DestroyCustomer(ctx context.Context, customerID string) (int, error)
}

// TokenForgetter drops what the service holds in memory to reach a
// tenant (Graph clients and their cached tokens); *graph.Factory has it.
type TokenForgetter interface {
	Forget(tenantID string)
}

// Service removes configurations and purges what is past retention.
type Service struct {
	store     Store
	vault     Vault
	tokens    TokenForgetter
	retention time.Duration
	now       func() time.Time
	log       *slog.Logger
}

// New returns a Service; vault and tokens may be nil (nothing of theirs
// is kept), retention <= 0 means DefaultRetention.
func New(store Store, vault Vault, tokens TokenForgetter, retention time.Duration, now func() time.Time, log *slog.Logger) *Service {
	if retention <= 0 {
		retention = DefaultRetention
	}
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{store: store, vault: vault, tokens: tokens, retention: retention, now: now, log: log}
}

// Retention is how long what is purged is kept.
func (s *Service) Retention() time.Duration { return s.retention }

// EntraEnterpriseAppsURL is the Microsoft Entra admin center's list of
// enterprise applications, where a school's admin deletes the app.
const EntraEnterpriseAppsURL = "https://entra.microsoft.com/#view/Microsoft_AAD_IAM/StartboardApplicationsMenuBlade/~/AppAppsPreview"

// deleteAppDocURL is Microsoft's guide to deleting an enterprise app.
const deleteAppDocURL = "https://learn.microsoft.com/entra/identity/enterprise-apps/delete-application-portal"

// Removal is what "Remove configuration" did, and what the school's admin
// does next.
type Removal struct {
	CustomerID     string    `json:"customerId"`
	Status         string    `json:"status"`
	DisconnectedAt time.Time `json:"disconnectedAt"`
	// PurgeAfter is when links, runs and logs are deleted; a new admin
	// consent before then reconnects and reuses the links.
	PurgeAfter time.Time `json:"purgeAfter"`
	// CancelledRuns are the runs that were queued: cancelled now.
	CancelledRuns []string `json:"cancelledRuns"`
	// StoppingRuns are the runs with a step under way: the runner stops
	// the step between two writes and ends them cancelled.
	StoppingRuns []string `json:"stoppingRuns"`
	// CredentialsDestroyed counts sealed initial passwords destroyed.
	CredentialsDestroyed int `json:"credentialsDestroyed"`
	// RemoveApp tells the school's admin how to remove the app from
	// their tenant: only they can.
	RemoveApp RemoveApp `json:"removeEnterpriseApp"`
}

// RemoveApp is the admin's instructions.
type RemoveApp struct {
	Instructions string `json:"instructions"`
	URL          string `json:"url"`
	HelpURL      string `json:"helpUrl"`
	AppID        string `json:"appId,omitempty"`
	TenantID     string `json:"tenantId,omitempty"`
}

// Remove disconnects the customer: no run is scheduled or accepted from
// now on (the scheduler and StartRun skip a disconnected customer), its
// queued and running runs end cancelled (a step already running finishes,
// the runner cancels the rest at its next step), its sealed initial
// passwords are destroyed and the service forgets its tokens. Links, runs
// and logs stay until the retention passes. It is idempotent; appID names
// the app in the instructions.
func (s *Service) Remove(ctx context.Context, customerID, appID string) (Removal, error) {
	c, err := s.store.GetCustomer(ctx, customerID)
	if err != nil {
		return Removal{}, err
	}
	now := s.now().UTC()
	if !c.Disconnected {
		c.Disconnected, c.DisconnectedAt = true, now
	}
	c.Status = tenant.StatusDisconnected
	if err := s.store.PutCustomer(ctx, c); err != nil {
		return Removal{}, fmt.Errorf("disconnect customer %s: %w", customerID, err)
	}
	r := Removal{CustomerID: c.ID, Status: string(c.Status), DisconnectedAt: c.DisconnectedAt,
		PurgeAfter: c.DisconnectedAt.Add(s.retention), CancelledRuns: []string{}, StoppingRuns: []string{}, RemoveApp: removeApp(c, appID)}
	cancelled, stopping, err := s.cancelRuns(ctx, c.ID, now)
	r.CancelledRuns = append(r.CancelledRuns, cancelled...)
	r.StoppingRuns = append(r.StoppingRuns, stopping...)
	if err != nil {
		return r, err
	}
	if s.vault != nil {
		n, err := s.vault.DestroyCustomer(ctx, c.ID)
		if err != nil {
			return r, err
		}
		r.CredentialsDestroyed = n
	}
	if s.tokens != nil && c.TenantID != "" {
		s.tokens.Forget(c.TenantID)
	}
	s.log.InfoContext(ctx, "configuration removed", "customer", c.ID, "tenant", c.TenantID,
		"cancelled", len(r.CancelledRuns), "credentials_destroyed", r.CredentialsDestroyed)
	return r, nil
}

func removeApp(c tenant.Customer, appID string) RemoveApp {
	text := "rostersync no longer reads or writes your tenant. To remove its access as well, a Global Administrator " +
		"(or Cloud Application Administrator) of your tenant signs in to the Microsoft Entra admin center, opens " +
		"Identity > Applications > Enterprise applications, searches for the app"
	if appID != "" {
		text += " by its application id " + appID
	}
	text += ", opens it and, under Properties, selects Delete. Until then the admin consent stays in your tenant."
	return RemoveApp{Instructions: text, URL: EntraEnterpriseAppsURL, HelpURL: deleteAppDocURL, AppID: appID, TenantID: c.TenantID}
}

// cancelRuns cancels every queued run of the customer, re-reading a run
// that moved while it was cancelled. A run with an entity under way is
// left to the runner, which stops its step and cancels it: marking it
// here would say "cancelled" while the step still writes.
func (s *Service) cancelRuns(ctx context.Context, customerID string, now time.Time) (cancelled, stopping []string, err error) {
	recent, err := s.store.ListRuns(ctx, customerID, "", 0)
	if err != nil {
		return nil, nil, err
	}
	underway := func(r runs.Run) bool {
		for _, e := range r.Entities {
			if e.Status == runs.StatusRunning {
				return true
			}
		}
		return false
	}
	for _, r := range recent {
		if r.Status.Done() {
			continue
		}
		if underway(r) {
			stopping = append(stopping, r.ID)
			continue
		}
		for range 10 {
			_, err = pipeline.CancelRun(ctx, s.store, r, "cancelled: the customer's configuration was removed", now)
			if !errors.Is(err, state.ErrConflict) {
				break
			}
			if r, err = s.store.GetRun(ctx, customerID, r.ID); err != nil {
				break
			}
			if underway(r) {
				break
			}
		}
		if err != nil {
			return cancelled, stopping, err
		}
		if underway(r) {
			stopping = append(stopping, r.ID)
			continue
		}
		cancelled = append(cancelled, r.ID)
	}
	return cancelled, stopping, nil
}

// PurgeReport says what one purge deleted.
type PurgeReport struct {
	// Customers are the removed customers whose records were purged.
	Customers []string
	// Plans counts plans of any customer deleted for their age.
	Plans int
	// AuditRecords counts audit records of connected customers deleted
	// for their age (a purged customer's are in its purge).
	AuditRecords int
}

// Purge deletes the links, runs, logs, plans and audit trail of every
// customer removed more than the retention ago, every customer's plans of
// runs older than the retention, and connected customers' audit records
// older than AuditRetention. It runs on the scheduler's tick; what it misses (an
// error) the next tick finishes.
func (s *Service) Purge(ctx context.Context, now time.Time) (PurgeReport, error) {
	var rep PurgeReport
	customers, err := s.store.ListCustomers(ctx)
	if err != nil {
		return rep, fmt.Errorf("purge: %w", err)
	}
	var errs []error
	for _, c := range customers {
		if !c.Disconnected {
			n, err := s.store.PurgeAudit(ctx, c.ID, now.Add(-AuditRetention))
			rep.AuditRecords += n
			if err != nil {
				errs = append(errs, err)
			}
			continue
		}
		if now.Before(c.DisconnectedAt.Add(s.retention)) || c.PurgedAt.After(c.DisconnectedAt) {
			continue
		}
		n, err := s.store.PurgeCustomer(ctx, c.ID)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		c.PurgedAt = now.UTC()
		if err := s.store.PutCustomer(ctx, c); err != nil {
			errs = append(errs, fmt.Errorf("mark customer %s purged: %w", c.ID, err))
			continue
		}
		rep.Customers = append(rep.Customers, c.ID)
		s.log.InfoContext(ctx, "removed customer purged", "customer", c.ID, "runs", n[state.TableRuns], "links", n[state.TableMappings])
	}
	plans, err := s.store.PurgePlans(ctx, now.Add(-s.retention))
	rep.Plans = plans
	if err != nil {
		errs = append(errs, err)
	}
	if plans > 0 {
		s.log.InfoContext(ctx, "old plans purged", "plans", plans)
	}
	return rep, errors.Join(errs...)
}

// TickJob is Purge as a job of the scheduler's tick.
func (s *Service) TickJob() pipeline.TickJob {
	return pipeline.TickJob{Name: "purge", Run: func(ctx context.Context, now time.Time) ([]string, error) {
		rep, err := s.Purge(ctx, now)
		var lines []string
		if len(rep.Customers) > 0 || rep.Plans > 0 || rep.AuditRecords > 0 {
			lines = append(lines, fmt.Sprintf("purge: %d removed customers, %d old plans, %d old audit records", len(rep.Customers), rep.Plans, rep.AuditRecords))
		}
		if err != nil {
			// Logged, not returned: the next tick tries again, and the
			// scheduler's report must not read as failed because of it.
			s.log.ErrorContext(ctx, "purge past retention failed", "error", err)
			lines = append(lines, "purge failed; the next tick tries again: "+err.Error())
		}
		return lines, nil
	}}
}
