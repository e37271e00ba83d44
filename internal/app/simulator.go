package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/rostersync/rostersync/internal/graphsim"
	"github.com/rostersync/rostersync/internal/tenant"
)

// SimulatorOptions configure the tenant simulator that stands in for
// Microsoft Graph locally.
type SimulatorOptions struct {
	// StateFile keeps the simulated tenants, durable per write as
	// Microsoft 365 is: the snapshot, and every accepted write appended to
	// StateFile+graphsim.WriteLogSuffix before it is answered, so a killed
	// process leaves its writes behind. Empty keeps them in memory.
	StateFile string
	// Seed holds tenants (the simulator's seed format) added at start when
	// the state file does not have them yet; tenants already kept win, so
	// restarting with the same seed does not undo what runs wrote.
	Seed *graphsim.State
	// TimeScale runs the simulator's clock (throttling windows,
	// Retry-After, replication delays) this many times faster.
	TimeScale float64
	// URL is a running `rostersync graphsim` to use instead of an embedded
	// one; StateFile is then ignored (the simulator keeps its own).
	URL string
	// Warn hears about a damaged write log's tail that was skipped.
	Warn func(string)
}

// Simulator is the Microsoft Graph tenant simulator the local commands
// (dev, demo, sync) run customers' tenants in: embedded and served on a
// loopback port, or a standalone one reached over HTTP.
type Simulator struct {
	// URL is the simulator's root (Graph's v1.0 is under it).
	URL       string
	TimeScale float64

	sim     *graphsim.Server // embedded, or nil
	remote  *graphsim.Remote // standalone, or nil
	mu      sync.Mutex       // serialises creating tenants on first use
	closers []func() error
}

// OpenSimulator starts the embedded simulator (or connects to o.URL).
func OpenSimulator(ctx context.Context, o SimulatorOptions) (*Simulator, error) {
	if o.TimeScale <= 0 {
		o.TimeScale = 1
	}
	if o.Warn == nil {
		o.Warn = func(string) {}
	}
	s := &Simulator{TimeScale: o.TimeScale}
	if o.URL != "" {
		u, err := url.Parse(o.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("simulator URL %q: want the simulator's http://HOST:PORT", o.URL)
		}
		s.remote = &graphsim.Remote{BaseURL: o.URL}
		s.URL = strings.TrimSuffix(strings.TrimRight(o.URL, "/"), "/v1.0")
		if o.Seed != nil {
			if err := s.seedMissing(ctx, *o.Seed); err != nil {
				return nil, err
			}
		}
		return s, nil
	}
	var st graphsim.State
	if o.StateFile != "" {
		var err error
		if st, _, err = graphsim.ReadDurableState(o.StateFile, o.Warn); err != nil {
			return nil, err
		}
	}
	sim := graphsim.New(graphsim.Options{TimeScale: o.TimeScale})
	if err := sim.Load(st); err != nil {
		return nil, fmt.Errorf("load the simulated tenants: %w", err)
	}
	s.sim = sim
	ok := false
	defer func() {
		if !ok {
			_ = s.Close()
		}
	}()
	if o.StateFile != "" {
		if err := sim.Persist(o.StateFile, graphsim.PersistOptions{}); err != nil {
			return nil, fmt.Errorf("persist the simulated tenants: %w", err)
		}
		s.closers = append(s.closers, sim.Close)
	}
	if o.Seed != nil {
		if err := s.seedMissing(ctx, *o.Seed); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for the simulator: %w", err)
	}
	srv := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	s.URL = "http://" + ln.Addr().String()
	s.closers = append(s.closers, srv.Close)
	ok = true
	return s, nil
}

func (s *Simulator) seedMissing(ctx context.Context, seed graphsim.State) error {
	for _, ts := range seed.Tenants {
		_, found, err := s.Tenant(ctx, ts.ID)
		if err != nil {
			return err
		}
		if found {
			continue
		}
		if err := s.add(ctx, ts); err != nil {
			return fmt.Errorf("seed tenant %s: %w", ts.ID, err)
		}
	}
	return nil
}

func (s *Simulator) add(ctx context.Context, ts graphsim.TenantState) error {
	if s.remote != nil {
		return s.remote.Load(ctx, graphsim.State{FormatVersion: graphsim.StateFormatVersion, Tenants: []graphsim.TenantState{ts}})
	}
	return s.sim.AddTenant(ts)
}

// EnsureTenant creates the tenant id with domains (the first the default)
// unless the simulator has it; it reports whether it created it.
func (s *Simulator) EnsureTenant(ctx context.Context, id string, domains []string) (bool, error) {
	return s.EnsureTenantEdition(ctx, id, domains, "")
}

// ErrEditionMismatch: the simulator has the tenant already, of another
// edition than the one asked for; an edition is chosen when a tenant is
// made, as a real tenant's licences are.
var ErrEditionMismatch = errors.New("the simulated tenant exists already, of another edition")

// EnsureTenantEdition is EnsureTenant making a tenant of the given
// edition (empty: education). A tenant the simulator has already is kept
// as it is; when an edition is asked for and it has another,
// ErrEditionMismatch.
func (s *Simulator) EnsureTenantEdition(ctx context.Context, id string, domains []string, edition graphsim.Edition) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ts, found, err := s.Tenant(ctx, id)
	if err != nil {
		return false, err
	}
	if found {
		if edition != "" && ts.Edition != edition {
			return false, fmt.Errorf("%w: tenant %s is a %s tenant, not %s", ErrEditionMismatch, id, ts.Edition, edition)
		}
		return false, nil
	}
	nt := NewSimTenant(id, domains)
	if edition != "" {
		nt.Edition = edition
	}
	if err := s.add(ctx, nt); err != nil {
		return false, fmt.Errorf("create simulated tenant %s: %w", id, err)
	}
	return true, nil
}

// customerTenant is the simulated tenant of a customer, created on first
// use with the customer's domains.
func (s *Simulator) customerTenant(ctx context.Context, c tenant.Customer) error {
	if c.TenantID == "" {
		return nil // the caller reports the missing binding
	}
	_, err := s.EnsureTenant(ctx, c.TenantID, c.Domains)
	return err
}

// Tenant exports one simulated tenant.
func (s *Simulator) Tenant(ctx context.Context, id string) (graphsim.TenantState, bool, error) {
	if s.remote != nil {
		return s.remote.ExportTenant(ctx, id)
	}
	ts, found := s.sim.ExportTenant(id)
	return ts, found, nil
}

// Stats are one tenant's request counters.
func (s *Simulator) Stats(ctx context.Context, id string) (graphsim.Stats, error) {
	if s.remote != nil {
		st, _, err := s.remote.Stats(ctx, id)
		return st, err
	}
	st, _ := s.sim.Stats(id)
	return st, nil
}

// Embedded is the in-process simulator, nil for a standalone one.
func (s *Simulator) Embedded() *graphsim.Server { return s.sim }

// Compact folds the write log into the state file; the tenants are durable
// without it (every write is logged as it is accepted), it only keeps the
// log short.
func (s *Simulator) Compact() error {
	if s.sim == nil {
		return nil
	}
	return s.sim.Compact()
}

// Close stops serving and persisting.
func (s *Simulator) Close() error {
	var errs []error
	for i := len(s.closers) - 1; i >= 0; i-- {
		errs = append(errs, s.closers[i]())
	}
	s.closers = nil
	return errors.Join(errs...)
}

// NewSimTenant is a new, empty Education tenant with domains verified
// (the first is the default) and an initial onmicrosoft.com domain.
func NewSimTenant(id string, domains []string) graphsim.TenantState {
	first := id
	if len(domains) > 0 {
		first = domains[0]
	}
	initial := strings.SplitN(first, ".", 2)[0] + ".onmicrosoft.com"
	ts := graphsim.TenantState{ID: id, DisplayName: "Simulated school tenant", Edition: graphsim.EditionEducation}
	for i, d := range domains {
		if strings.EqualFold(d, initial) {
			continue
		}
		ts.Domains = append(ts.Domains, graphsim.Domain{ID: d, IsVerified: true, IsDefault: i == 0})
	}
	ts.Domains = append(ts.Domains, graphsim.Domain{ID: initial, IsVerified: true, IsInitial: true, IsDefault: len(ts.Domains) == 0})
	return ts
}
