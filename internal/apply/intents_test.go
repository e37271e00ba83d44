package apply

import (
	"context"
	"testing"
	"time"

	"github.com/rostersync/rostersync/internal/plan"
	"github.com/rostersync/rostersync/internal/state"
)

type intentFixture struct {
	intents map[string]state.Intent
	links   map[string]state.Mapping
	objects map[string]string // key -> object id
}

func (f *intentFixture) ListIntents(ctx context.Context, customerID, kind string) ([]state.Intent, error) {
	var out []state.Intent
	for _, x := range f.intents {
		out = append(out, x)
	}
	return out, nil
}

func (f *intentFixture) DeleteIntents(ctx context.Context, customerID, kind string, ids ...string) error {
	for _, id := range ids {
		delete(f.intents, id)
	}
	return nil
}

func (f *intentFixture) GetMapping(ctx context.Context, customerID, kind, sourceID string) (state.Mapping, error) {
	m, ok := f.links[sourceID]
	if !ok {
		return m, state.ErrNotFound
	}
	return m, nil
}

func (f *intentFixture) PutMappings(ctx context.Context, ms ...state.Mapping) error {
	for _, m := range ms {
		f.links[m.SourceID] = m
	}
	return nil
}

func (f *intentFixture) FindCreated(ctx context.Context, kind plan.Kind, key string) (string, bool, error) {
	id, ok := f.objects[key]
	return id, ok, nil
}

func TestResolveIntents(t *testing.T) {
	now := time.Date(2026, 11, 30, 2, 0, 0, 0, time.UTC)
	const window = 5 * time.Minute
	intent := func(src, key string, age time.Duration) state.Intent {
		return state.Intent{CustomerID: "oak", Kind: "user", SourceID: src, Key: key, Type: "student", At: now.Add(-age)}
	}
	tests := []struct {
		name      string
		intent    state.Intent
		linked    bool
		object    bool
		wantLink  string
		wantWait  time.Duration
		wantKept  bool
		wantHowIs string
	}{
		{name: "object found becomes the link", intent: intent("s1", "a@x", time.Hour), object: true, wantLink: "obj-a", wantHowIs: HowFoundByIntent},
		{name: "already linked is settled", intent: intent("s1", "a@x", time.Minute), linked: true, wantLink: "linked-before"},
		{name: "not visible yet waits out the window", intent: intent("s1", "a@x", time.Minute), wantWait: 4 * time.Minute, wantKept: true},
		{name: "never made is dropped after the window", intent: intent("s1", "a@x", 10*time.Minute)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &intentFixture{intents: map[string]state.Intent{"s1": tt.intent}, links: map[string]state.Mapping{}, objects: map[string]string{}}
			if tt.linked {
				f.links["s1"] = state.Mapping{SourceID: "s1", TargetID: "linked-before"}
			}
			if tt.object {
				f.objects["a@x"] = "obj-a"
			}
			wait, err := ResolveIntents(context.Background(), f, f, "oak", plan.KindUser, now, window)
			if err != nil {
				t.Fatal(err)
			}
			if wait != tt.wantWait {
				t.Errorf("wait = %v, want %v", wait, tt.wantWait)
			}
			if _, kept := f.intents["s1"]; kept != tt.wantKept {
				t.Errorf("intent kept = %t, want %t", kept, tt.wantKept)
			}
			if got := f.links["s1"]; got.TargetID != tt.wantLink || (tt.wantHowIs != "" && (got.How != tt.wantHowIs || got.Type != "student")) {
				t.Errorf("link = %+v, want target %q how %q", got, tt.wantLink, tt.wantHowIs)
			}
		})
	}
}
