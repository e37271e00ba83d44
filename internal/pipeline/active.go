package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rostersync/rostersync/internal/state"
)

// ErrRunActive is returned when a run is asked for a profile that has one
// in progress: two runs of one profile would plan and apply over each other.
var ErrRunActive = errors.New("a run of this profile is in progress")

// activeEntity is the SyncState entity name of the marker naming a
// profile's latest manual run. Saving it with its ETag is what keeps two
// concurrent "sync now" calls from both starting.
const activeEntity = "_active"

// claimGrace is how long a claimed run may take to appear before its claim
// counts as abandoned.
const claimGrace = time.Minute

// claimRun makes runID the profile's running manual run, unless the latest
// manual run or the latest scheduled run (the scheduler's marker) is still
// in progress, or another claim lands first.
func (p *Pipeline) claimRun(ctx context.Context, customerID, profileID, runID string) error {
	marker, err := p.store.GetSyncState(ctx, customerID, profileID, activeEntity)
	if err != nil && !errors.Is(err, state.ErrNotFound) {
		return err
	}
	sched, err := p.store.GetSyncState(ctx, customerID, profileID, state.ScheduleEntity)
	if err != nil && !errors.Is(err, state.ErrNotFound) {
		return err
	}
	for _, id := range []string{marker.LastRunID, sched.LastRunID} {
		if id == "" {
			continue
		}
		run, err := p.store.GetRun(ctx, customerID, id)
		if errors.Is(err, state.ErrNotFound) {
			// Claimed a moment ago and being created now, or claimed and
			// then never created (its starter failed): only the first
			// holds the profile.
			if id == marker.LastRunID && p.clock.Now().Sub(marker.ClaimedAt) < claimGrace {
				return fmt.Errorf("%w: run %s of profile %s is being started", ErrRunActive, id, profileID)
			}
			continue
		}
		if err != nil {
			return err
		}
		if !run.Status.Done() {
			return fmt.Errorf("%w: run %s of profile %s is %s", ErrRunActive, run.ID, profileID, run.Status)
		}
	}
	marker.LastRunID, marker.ClaimedAt = runID, p.clock.Now().UTC()
	if _, err := p.store.SaveSyncState(ctx, marker); err != nil {
		if errors.Is(err, state.ErrConflict) {
			return fmt.Errorf("%w: another run of profile %s was started at the same moment", ErrRunActive, profileID)
		}
		return err
	}
	return nil
}
