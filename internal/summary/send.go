package summary

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/rostersync/rostersync/internal/pipeline"
	"github.com/rostersync/rostersync/internal/runs"
	"github.com/rostersync/rostersync/internal/state"
	"github.com/rostersync/rostersync/internal/tenant"
)

// The customer's summary marker is a sync state row of no real profile:
// LastWindow is the last local day summarised.
const (
	MarkerProfile = "_customer"
	MarkerEntity  = "_summary"
)

// Marker statuses (SyncState.LastStatus).
const (
	markSending = "sending"
	markSent    = "sent"
	markNoRuns  = "no runs"
)

// Store is what the summary reads and marks; *state.Store has it.
type Store interface {
	ListCustomers(ctx context.Context) ([]tenant.Customer, error)
	ListProfiles(ctx context.Context, customerID string) ([]tenant.Profile, error)
	ListRuns(ctx context.Context, customerID, profileID string, limit int) ([]runs.Run, error)
	GetSyncState(ctx context.Context, customerID, profileID, entity string) (state.SyncState, error)
	SaveSyncState(ctx context.Context, st state.SyncState) (state.SyncState, error)
}

var _ Store = (*state.Store)(nil)

// Mail is one email to send.
type Mail struct {
	To string
	Message
}

// Mailer sends an email from the vendor's mailbox (Graph sendMail, signed
// in to the vendor's own tenant; see internal/app).
type Mailer interface {
	SendMail(ctx context.Context, m Mail) error
}

// Options configure a Service.
type Options struct {
	// RunURL is the root of run links (see Input.RunURL).
	RunURL string
	Log    *slog.Logger
}

// Service sends each customer's summary of its previous local day, once.
type Service struct {
	store  Store
	mailer Mailer
	o      Options
}

// New returns a Service.
func New(store Store, mailer Mailer, o Options) *Service {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return &Service{store: store, mailer: mailer, o: o}
}

// Outcome is what Send did for one customer.
type Outcome struct {
	CustomerID, Day string
	// Sent is the recipient when a summary went out.
	Sent string
	// Reason says why nothing went out ("" when Sent).
	Reason string
}

// Send sends the summaries due at now: for every connected customer with
// a summary address, the previous local day (in its profiles' time zone)
// once every run of that day has ended. A day with no runs sends nothing,
// unless the customer's consent is revoked, which the summary says.
//
// Each customer's day is claimed first with an ETag-guarded marker, so two
// ticks at once send once; a failed send gives the claim back and the next
// tick tries again. A process that dies between claim and send loses that
// day's summary rather than risking two.
func (s *Service) Send(ctx context.Context, now time.Time) ([]Outcome, error) {
	customers, err := s.store.ListCustomers(ctx)
	if err != nil {
		return nil, fmt.Errorf("daily summary: %w", err)
	}
	var out []Outcome
	var errs []error
	for _, c := range customers {
		if c.Disconnected || c.SummaryEmail == "" {
			continue
		}
		o, err := s.sendCustomer(ctx, c, now)
		if err != nil {
			errs = append(errs, fmt.Errorf("daily summary of customer %s: %w", c.ID, err))
		}
		if o.Day != "" {
			out = append(out, o)
		}
	}
	return out, errors.Join(errs...)
}

func (s *Service) sendCustomer(ctx context.Context, c tenant.Customer, now time.Time) (Outcome, error) {
	profiles, err := s.store.ListProfiles(ctx, c.ID)
	if err != nil || len(profiles) == 0 {
		return Outcome{}, err
	}
	loc := customerZone(profiles)
	local := now.In(loc)
	today := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, loc)
	start := today.AddDate(0, 0, -1)
	day := start.Format(time.DateOnly)
	o := Outcome{CustomerID: c.ID, Day: day}

	marker, err := s.store.GetSyncState(ctx, c.ID, MarkerProfile, MarkerEntity)
	if err != nil && !errors.Is(err, state.ErrNotFound) {
		return o, err
	}
	if marker.LastWindow >= day {
		return Outcome{}, nil // done before
	}
	all, err := s.store.ListRuns(ctx, c.ID, "", 0)
	if err != nil {
		return o, err
	}
	var dayRuns []runs.Run
	for _, r := range all {
		if r.CreatedAt.Before(start) || !r.CreatedAt.Before(today) {
			continue
		}
		if !r.Status.Done() {
			o.Reason = "waiting for run " + r.ID
			return o, nil
		}
		dayRuns = append(dayRuns, r)
	}
	prev := marker
	if len(dayRuns) == 0 && c.Status != tenant.StatusConsentRevoked {
		marker.LastWindow, marker.LastStatus = day, markNoRuns
		if _, err := s.store.SaveSyncState(ctx, marker); err != nil && !errors.Is(err, state.ErrConflict) {
			return o, err
		}
		o.Reason = markNoRuns
		return o, nil
	}
	names := make(map[string]string, len(profiles))
	for _, p := range profiles {
		names[p.ID] = p.Name
	}
	msg, err := Compose(Input{Customer: c, Day: day, Profiles: names, Runs: dayRuns, RunURL: s.o.RunURL})
	if err != nil {
		return o, err
	}
	marker.LastWindow, marker.LastStatus, marker.ClaimedAt = day, markSending, now.UTC()
	claimed, err := s.store.SaveSyncState(ctx, marker)
	if errors.Is(err, state.ErrConflict) {
		o.Reason = "claimed by another tick"
		return o, nil
	}
	if err != nil {
		return o, err
	}
	if err := s.mailer.SendMail(ctx, Mail{To: c.SummaryEmail, Message: msg}); err != nil {
		prev.ETag = claimed.ETag
		if _, rerr := s.store.SaveSyncState(ctx, prev); rerr != nil {
			err = errors.Join(err, fmt.Errorf("give back the claim of day %s: %w", day, rerr))
		}
		return o, fmt.Errorf("send day %s: %w", day, err)
	}
	claimed.LastStatus, claimed.LastRunAt = markSent, now.UTC()
	if _, err := s.store.SaveSyncState(ctx, claimed); err != nil {
		// Sent all the same; the claim already names the day.
		s.o.Log.WarnContext(ctx, "daily summary sent, marker not updated", "customer", c.ID, "day", day, "error", err)
	}
	s.o.Log.InfoContext(ctx, "daily summary sent", "customer", c.ID, "day", day, "runs", len(dayRuns))
	o.Sent = c.SummaryEmail
	return o, nil
}

// customerZone is the time zone of the customer's day: its enabled
// profiles' (the first by id), else any profile's, else UTC.
func customerZone(profiles []tenant.Profile) *time.Location {
	ps := slices.Clone(profiles)
	slices.SortStableFunc(ps, func(a, b tenant.Profile) int {
		switch {
		case a.Enabled == b.Enabled:
			return 0
		case a.Enabled:
			return -1
		}
		return 1
	})
	for _, p := range ps {
		if loc, err := time.LoadLocation(p.TimeZone); err == nil && p.TimeZone != "" {
			return loc
		}
	}
	return time.UTC
}

// TickJob is Send as a job of the scheduler's tick. A failure is logged
// and reported as a line, not as the tick's error: the next tick (five
// minutes later) tries again.
func (s *Service) TickJob() pipeline.TickJob {
	return pipeline.TickJob{Name: "summary", Run: func(ctx context.Context, now time.Time) ([]string, error) {
		outs, err := s.Send(ctx, now)
		var lines []string
		for _, o := range outs {
			if o.Sent != "" {
				// The address is the customer's own log mailbox, not a
				// pupil's; the line names the customer and day.
				lines = append(lines, fmt.Sprintf("summary: customer %s day %s sent", o.CustomerID, o.Day))
			}
		}
		if err != nil {
			s.o.Log.ErrorContext(ctx, "daily summary failed", "error", err)
			lines = append(lines, "summary failed; the next tick tries again: "+err.Error())
		}
		return lines, nil
	}}
}
