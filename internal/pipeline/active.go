package pipeline

import (
	"context"
	"errors"
	"fmt"

	"github.com/rostersync/rostersync/internal/state"
)

// ErrRunActive is returned when a run is asked for a profile that has one
// in progress: two runs of one profile would plan and apply over each other.
var ErrRunActive = errors.New("a run of this profile is in progress")

// activeEntity is the SyncState entity name of the marker naming a
// profile's latest manual run. Saving it with its ETag is what keeps two
// concurrent "sync now" calls from both starting.
const activeEntity = "_active"

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
			continue // claimed, then never created
		}
		if err != nil {
			return err
		}
		if !run.Status.Done() {
			return fmt.Errorf("%w: run %s of profile %s is %s", ErrRunActive, run.ID, profileID, run.Status)
		}
	}
	marker.LastRunID = runID
	if _, err := p.store.SaveSyncState(ctx, marker); err != nil {
		if errors.Is(err, state.ErrConflict) {
			return fmt.Errorf("%w: another run of profile %s was started at the same moment", ErrRunActive, profileID)
		}
		return err
	}
	return nil
}
