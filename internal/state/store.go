package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/rostersync/rostersync/internal/runs"
	"github.com/rostersync/rostersync/internal/tenant"
)

// Table names. Azure table names are alphanumeric, 3..63 characters.
const (
	TableCustomers   = "customers"
	TableProfiles    = "profiles"
	TableMappings    = "mappings"
	TableExclusions  = "exclusions"
	TableRuns        = "runs"
	TableRunLog      = "runlog"
	TableSyncState   = "syncstate"
	TableDeadLetters = "deadletters"
	// TablePlans holds each run's entity plans: a header row naming the
	// plan's body (a blob) and one journal row per change that made
	// progress, and confirmations of held plans.
	TablePlans = "plans"
	// TableCredentials holds new accounts' initial credentials, sealed by
	// internal/credentials, until an export of them is acknowledged or expires.
	TableCredentials = "credentials"
	// TableBlobs holds large write-once values (plan bodies) cut into rows,
	// for backends that keep no blobs of their own.
	TableBlobs = "blobs"
)

// Tables lists every table the Store uses; infra and tests check against it.
var Tables = []string{TableCustomers, TableProfiles, TableMappings, TableExclusions,
	TableRuns, TableRunIndex, TableRunLog, TableSyncState, TableDeadLetters, TablePlans, TableCredentials, TableBlobs, TableAudit}

const (
	propData    = "Data"
	propStatus  = "Status"
	customersPK = "customer"
)

// Store is the typed state API over a Backend. It is safe for concurrent use.
type Store struct {
	backend Backend
	blobs   Blobs
	now     func() time.Time

	// logMu guards lastLogBase, the time part of the last run-log row key
	// this Store wrote; see logBase.
	logMu       sync.Mutex
	lastLogBase int64
}

// NewStore returns a Store over b; now stamps records (nil: time.Now).
func NewStore(b Backend, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	s := &Store{backend: b, now: now}
	s.blobs = tableBlobs{s}
	if bb, ok := b.(Blobs); ok {
		s.blobs = bb
	}
	return s
}

func (s *Store) table(ctx context.Context, name string) (Table, error) {
	t, err := s.backend.Table(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("open table %s: %w", name, err)
	}
	return t, nil
}

func encodeData(pk, rk string, v any, extra map[string]string) (Entity, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return Entity{}, fmt.Errorf("encode %s/%s: %w", pk, rk, err)
	}
	props := map[string]string{propData: string(b)}
	for k, v := range extra {
		props[k] = v
	}
	return Entity{PartitionKey: pk, RowKey: rk, Props: props}, nil
}

func decodeData(e Entity, v any) error {
	if err := json.Unmarshal([]byte(e.Props[propData]), v); err != nil {
		return fmt.Errorf("decode %s/%s: %w", e.PartitionKey, e.RowKey, err)
	}
	return nil
}

// --- customers

// PutCustomer creates or replaces a customer. A tenant id bound to another
// customer is refused (ErrTenantTaken, wrapped with ErrConflict).
func (s *Store) PutCustomer(ctx context.Context, c tenant.Customer) error {
	if err := c.Validate(); err != nil {
		return err
	}
	t, err := s.table(ctx, TableCustomers)
	if err != nil {
		return err
	}
	old, err := s.GetCustomer(ctx, c.ID)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	if err := s.bindTenant(ctx, t, c); err != nil {
		return err
	}
	e, err := encodeData(customersPK, EncodeKey(c.ID), c, nil)
	if err != nil {
		return err
	}
	if _, err := t.Upsert(ctx, e); err != nil {
		return fmt.Errorf("put customer %s: %w", c.ID, err)
	}
	if old.TenantID != "" && !strings.EqualFold(old.TenantID, c.TenantID) {
		return s.releaseTenant(ctx, t, c.ID, old.TenantID)
	}
	return nil
}

// GetCustomer returns ErrNotFound for an unknown id.
func (s *Store) GetCustomer(ctx context.Context, id string) (tenant.Customer, error) {
	var c tenant.Customer
	t, err := s.table(ctx, TableCustomers)
	if err != nil {
		return c, err
	}
	e, err := t.Get(ctx, customersPK, EncodeKey(id))
	if err != nil {
		return c, fmt.Errorf("get customer %s: %w", id, err)
	}
	return c, decodeData(e, &c)
}

// ListCustomers returns every customer in id order.
func (s *Store) ListCustomers(ctx context.Context) ([]tenant.Customer, error) {
	t, err := s.table(ctx, TableCustomers)
	if err != nil {
		return nil, err
	}
	rows, err := t.List(ctx, Query{PartitionKey: customersPK})
	if err != nil {
		return nil, fmt.Errorf("list customers: %w", err)
	}
	out := make([]tenant.Customer, 0, len(rows))
	for _, e := range rows {
		var c tenant.Customer
		if err := decodeData(e, &c); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// --- profiles

// ErrOverlap is returned when saving an enabled profile whose dates overlap
// another enabled profile of the same customer.
var ErrOverlap = errors.New("overlaps another enabled profile")

// SaveProfile validates p, refuses overlaps with the customer's other
// enabled profiles, and creates or replaces it.
func (s *Store) SaveProfile(ctx context.Context, p tenant.Profile) error {
	return s.saveProfile(ctx, p, false)
}

// CreateProfile is SaveProfile for a profile that must not exist yet:
// ErrExists (wrapped with ErrConflict) when the id is taken.
func (s *Store) CreateProfile(ctx context.Context, p tenant.Profile) error {
	return s.saveProfile(ctx, p, true)
}

// profilesMarkerRow is a row in each customer's profiles partition that
// every save of a profile rewrites, ETag-guarded, in one transaction with
// the profile: two saves that read the same profiles cannot both commit,
// so the overlap rule holds however they interleave. Its key cannot be a
// profile id (ids start with a letter or digit).
const profilesMarkerRow = "_saves"

// maxProfileSaveRounds bounds the re-reads of a save that lost a race.
const maxProfileSaveRounds = 20

func (s *Store) saveProfile(ctx context.Context, p tenant.Profile, create bool) error {
	if err := p.Validate(); err != nil {
		return err
	}
	t, err := s.table(ctx, TableProfiles)
	if err != nil {
		return err
	}
	pk := EncodeKey(p.CustomerID)
	for range maxProfileSaveRounds {
		marker, err := t.Get(ctx, pk, profilesMarkerRow)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("save profile %s of customer %s: %w", p.ID, p.CustomerID, err)
		}
		others, err := s.ListProfiles(ctx, p.CustomerID)
		if err != nil {
			return err
		}
		q := p
		for _, o := range others {
			if o.ID != q.ID {
				continue
			}
			if create {
				return fmt.Errorf("create profile %s of customer %s: %w: %w", p.ID, p.CustomerID, ErrConflict, ErrExists)
			}
			if !o.CreatedAt.IsZero() {
				q.CreatedAt = o.CreatedAt
			}
		}
		if q.CreatedAt.IsZero() {
			q.CreatedAt = s.now().UTC()
		}
		if clash := q.Overlaps(others); len(clash) > 0 {
			ids := make([]string, len(clash))
			for i, o := range clash {
				ids[i] = o.ID
			}
			return fmt.Errorf("save profile %s of customer %s: %w: %s", p.ID, p.CustomerID, ErrOverlap, strings.Join(ids, ", "))
		}
		e, err := encodeData(pk, EncodeKey(q.ID), q, nil)
		if err != nil {
			return err
		}
		saves, _ := strconv.Atoi(marker.Props["Saves"])
		m := Entity{PartitionKey: pk, RowKey: profilesMarkerRow, ETag: marker.ETag, Props: map[string]string{"Saves": strconv.Itoa(saves + 1)}}
		mop := Op{Kind: OpUpdate, Entity: m}
		if marker.ETag == "" {
			mop.Kind = OpInsert
		}
		pop := Op{Kind: OpUpsert, Entity: e}
		if create {
			pop.Kind = OpInsert
		}
		err = t.Transact(ctx, []Op{mop, pop})
		switch {
		case err == nil:
			return nil
		case errors.Is(err, ErrConflict), errors.Is(err, ErrExists) && !create, errors.Is(err, ErrExists) && mop.Kind == OpInsert:
			continue // another save committed first: read again
		case errors.Is(err, ErrExists):
			return fmt.Errorf("create profile %s of customer %s: %w: %w", p.ID, p.CustomerID, ErrConflict, err)
		default:
			return fmt.Errorf("save profile %s of customer %s: %w", p.ID, p.CustomerID, err)
		}
	}
	return fmt.Errorf("save profile %s of customer %s: %w: too many concurrent saves", p.ID, p.CustomerID, ErrConflict)
}

// GetProfile returns ErrNotFound for an unknown profile.
func (s *Store) GetProfile(ctx context.Context, customerID, profileID string) (tenant.Profile, error) {
	var p tenant.Profile
	if EncodeKey(profileID) == profilesMarkerRow {
		return p, fmt.Errorf("get profile %s of customer %s: %w", profileID, customerID, ErrNotFound)
	}
	t, err := s.table(ctx, TableProfiles)
	if err != nil {
		return p, err
	}
	e, err := t.Get(ctx, EncodeKey(customerID), EncodeKey(profileID))
	if err != nil {
		return p, fmt.Errorf("get profile %s of customer %s: %w", profileID, customerID, err)
	}
	return p, decodeData(e, &p)
}

// ListProfiles returns a customer's profiles in id order.
func (s *Store) ListProfiles(ctx context.Context, customerID string) ([]tenant.Profile, error) {
	t, err := s.table(ctx, TableProfiles)
	if err != nil {
		return nil, err
	}
	rows, err := t.List(ctx, Query{PartitionKey: EncodeKey(customerID)})
	if err != nil {
		return nil, fmt.Errorf("list profiles of customer %s: %w", customerID, err)
	}
	out := make([]tenant.Profile, 0, len(rows))
	for _, e := range rows {
		if e.RowKey == profilesMarkerRow {
			continue
		}
		var p tenant.Profile
		if err := decodeData(e, &p); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// --- sync state

// SyncState is what the pipeline remembers between runs of one profile and
// entity. The entity "_schedule" holds the scheduler's own marker.
type SyncState struct {
	CustomerID string `json:"customerId"`
	ProfileID  string `json:"profileId"`
	Entity     string `json:"entity"`
	// LastWindow is the last schedule window the scheduler enqueued (for
	// "_schedule") or the last window an entity finished.
	LastWindow string    `json:"lastWindow,omitempty"`
	LastRunID  string    `json:"lastRunId,omitempty"`
	LastSync   time.Time `json:"lastSync,omitzero"`
	LastStatus string    `json:"lastStatus,omitempty"`
	// LastRunAt is when the last run (LastRunID) ended, whatever its
	// outcome (LastStatus); LastSync is the last good one.
	LastRunAt time.Time `json:"lastRunAt,omitzero"`
	// Cursor is entity-specific (a delta link, say).
	Cursor string `json:"cursor,omitempty"`
	// ClaimedAt is when a marker last named LastRunID, before that run's
	// record exists.
	ClaimedAt time.Time `json:"claimedAt,omitzero"`
	// ETag is empty for a state never saved.
	ETag string `json:"-"`
}

// ScheduleEntity is the SyncState entity name of the scheduler's marker.
const ScheduleEntity = "_schedule"

// GetSyncState returns the saved state, or a zero state (empty ETag) with
// ErrNotFound when none was saved.
func (s *Store) GetSyncState(ctx context.Context, customerID, profileID, entity string) (SyncState, error) {
	st := SyncState{CustomerID: customerID, ProfileID: profileID, Entity: entity}
	t, err := s.table(ctx, TableSyncState)
	if err != nil {
		return st, err
	}
	e, err := t.Get(ctx, EncodeKey(customerID), EncodeKey(profileID, entity))
	if err != nil {
		return st, fmt.Errorf("get sync state %s/%s/%s: %w", customerID, profileID, entity, err)
	}
	if err := decodeData(e, &st); err != nil {
		return st, err
	}
	st.ETag = e.ETag
	return st, nil
}

// SaveSyncState writes st if nobody changed it since it was read: an empty
// ETag means "create", anything else must match. It returns ErrConflict when
// another job got there first, and st with its new ETag otherwise.
func (s *Store) SaveSyncState(ctx context.Context, st SyncState) (SyncState, error) {
	t, err := s.table(ctx, TableSyncState)
	if err != nil {
		return st, err
	}
	e, err := encodeData(EncodeKey(st.CustomerID), EncodeKey(st.ProfileID, st.Entity), st, nil)
	if err != nil {
		return st, err
	}
	e.ETag = st.ETag
	var saved Entity
	if st.ETag == "" {
		saved, err = t.Insert(ctx, e)
		if errors.Is(err, ErrExists) {
			err = fmt.Errorf("%w: %w", ErrConflict, err)
		}
	} else {
		saved, err = t.Update(ctx, e)
	}
	if err != nil {
		return st, fmt.Errorf("save sync state %s/%s/%s: %w", st.CustomerID, st.ProfileID, st.Entity, err)
	}
	st.ETag = saved.ETag
	return st, nil
}

// --- runs

// CreateRun stores a new run; ErrExists when the id is taken.
func (s *Store) CreateRun(ctx context.Context, r runs.Run) (runs.Run, error) {
	t, err := s.table(ctx, TableRuns)
	if err != nil {
		return r, err
	}
	e, err := encodeData(EncodeKey(r.CustomerID), EncodeKey(r.ID), r, map[string]string{propStatus: string(r.Status)})
	if err != nil {
		return r, err
	}
	// The index row first: a run is never missing from the newest-first
	// list, and a row whose run was never made is skipped.
	if err := s.indexRun(ctx, r); err != nil {
		return r, err
	}
	saved, err := t.Insert(ctx, e)
	if err != nil {
		return r, fmt.Errorf("create run %s of customer %s: %w", r.ID, r.CustomerID, err)
	}
	r.ETag = saved.ETag
	return r, nil
}

// GetRun returns ErrNotFound for an unknown run.
func (s *Store) GetRun(ctx context.Context, customerID, runID string) (runs.Run, error) {
	var r runs.Run
	t, err := s.table(ctx, TableRuns)
	if err != nil {
		return r, err
	}
	e, err := t.Get(ctx, EncodeKey(customerID), EncodeKey(runID))
	if err != nil {
		return r, fmt.Errorf("get run %s of customer %s: %w", runID, customerID, err)
	}
	if err := decodeData(e, &r); err != nil {
		return r, err
	}
	r.ETag = e.ETag
	return r, nil
}

// SaveRun replaces a run read earlier; ErrConflict when it changed since.
func (s *Store) SaveRun(ctx context.Context, r runs.Run) (runs.Run, error) {
	t, err := s.table(ctx, TableRuns)
	if err != nil {
		return r, err
	}
	e, err := encodeData(EncodeKey(r.CustomerID), EncodeKey(r.ID), r, map[string]string{propStatus: string(r.Status)})
	if err != nil {
		return r, err
	}
	e.ETag = r.ETag
	if e.ETag == "" {
		return r, fmt.Errorf("save run %s: no etag: read the run before saving it", r.ID)
	}
	saved, err := t.Update(ctx, e)
	if err != nil {
		return r, fmt.Errorf("save run %s of customer %s: %w", r.ID, r.CustomerID, err)
	}
	r.ETag = saved.ETag
	return r, nil
}

// nextAfter is the continuation after rows, a page read with Limit top:
// its last row key when the page was full, "" when the read ran out.
func nextAfter(rows []Entity, top int) string {
	if len(rows) < top || len(rows) == 0 {
		return ""
	}
	return rows[len(rows)-1].RowKey
}

// --- run log

// AppendRunLog adds entries to a run's log in one or more transactions.
func (s *Store) AppendRunLog(ctx context.Context, customerID, runID string, entries ...runs.LogEntry) error {
	if len(entries) == 0 {
		return nil
	}
	t, err := s.table(ctx, TableRunLog)
	if err != nil {
		return err
	}
	pk := EncodeKey(customerID, runID)
	base := s.logBase()
	ops := make([]Op, 0, len(entries))
	for i, le := range entries {
		if le.Time.IsZero() {
			le.Time = s.now().UTC()
		}
		// Row keys sort by append time; the index keeps one call's
		// entries apart and in order (six digits: a million per call).
		rk := fmt.Sprintf("%020d-%06d", base, i)
		e, err := encodeData(pk, rk, le, nil)
		if err != nil {
			return err
		}
		ops = append(ops, Op{Kind: OpInsert, Entity: e})
	}
	for _, chunk := range Chunk(ops) {
		if err := t.Transact(ctx, chunk); err != nil {
			return fmt.Errorf("append run log of run %s: %w", runID, err)
		}
	}
	return nil
}

// logBase returns the time part of the row keys of one AppendRunLog call:
// the clock in nanoseconds, but always after the previous call's, so that
// two appends cannot collide (ErrExists) or swap places when the clock has
// not moved, as with a fake clock or a coarse one.
func (s *Store) logBase() int64 {
	base := s.now().UTC().UnixNano()
	s.logMu.Lock()
	defer s.logMu.Unlock()
	if base <= s.lastLogBase {
		base = s.lastLogBase + 1
	}
	s.lastLogBase = base
	return base
}

// RunLog returns a run's log in append order.
func (s *Store) RunLog(ctx context.Context, customerID, runID string) ([]runs.LogEntry, error) {
	t, err := s.table(ctx, TableRunLog)
	if err != nil {
		return nil, err
	}
	rows, err := t.List(ctx, Query{PartitionKey: EncodeKey(customerID, runID)})
	if err != nil {
		return nil, fmt.Errorf("read run log of run %s: %w", runID, err)
	}
	out := make([]runs.LogEntry, 0, len(rows))
	for _, e := range rows {
		var le runs.LogEntry
		if err := decodeData(e, &le); err != nil {
			return nil, err
		}
		out = append(out, le)
	}
	return out, nil
}

// RunLogPage returns at most top entries of a run's log, oldest first,
// after the continuation a previous page returned ("" for the first); the
// continuation answered is "" when there is nothing more.
func (s *Store) RunLogPage(ctx context.Context, customerID, runID string, top int, after string) ([]runs.LogEntry, string, error) {
	t, err := s.table(ctx, TableRunLog)
	if err != nil {
		return nil, "", err
	}
	if top < 1 {
		return nil, "", fmt.Errorf("read run log of run %s: page size %d: %w", runID, top, ErrInvalidKey)
	}
	rows, err := t.List(ctx, Query{PartitionKey: EncodeKey(customerID, runID), RowKeyAfter: after, Limit: top})
	if err != nil {
		return nil, "", fmt.Errorf("read run log of run %s: %w", runID, err)
	}
	out := make([]runs.LogEntry, 0, len(rows))
	for _, e := range rows {
		var le runs.LogEntry
		if err := decodeData(e, &le); err != nil {
			return nil, "", err
		}
		out = append(out, le)
	}
	return out, nextAfter(rows, top), nil
}

// --- mappings

// Mapping links a MIS object (by sourcedId) to its Microsoft 365 object.
type Mapping struct {
	CustomerID string `json:"customerId"`
	// Kind is "user", "group", "class", ...
	Kind     string `json:"kind"`
	SourceID string `json:"sourceId"`
	TargetID string `json:"targetId"`
	// How records how the link was made (e.g. "matched:email", "created",
	// "manual").
	How string `json:"how,omitempty"`
	// Type is the object's type when the link was made (a person's user
	// type, a group's type), so a leaver
	// who is gone from the roster is still handled by its type's rules.
	Type string `json:"userType,omitempty"` // the stored name predates groups
	// Suspended is set when rostersync suspended the account, so only
	// accounts it switched off are switched back on for returners.
	Suspended bool      `json:"suspended,omitempty"`
	UpdatedAt time.Time `json:"updatedAt,omitzero"`
}

// PutMappings upserts mappings, one transaction per partition and hundred.
func (s *Store) PutMappings(ctx context.Context, ms ...Mapping) error {
	t, err := s.table(ctx, TableMappings)
	if err != nil {
		return err
	}
	ops := make([]Op, 0, len(ms))
	for _, m := range ms {
		if m.UpdatedAt.IsZero() {
			m.UpdatedAt = s.now().UTC()
		}
		e, err := encodeData(EncodeKey(m.CustomerID, m.Kind), EncodeKey(m.SourceID), m, nil)
		if err != nil {
			return err
		}
		ops = append(ops, Op{Kind: OpUpsert, Entity: e})
	}
	return transactAll(ctx, t, ops, "put mappings")
}

func transactAll(ctx context.Context, t Table, ops []Op, what string) error {
	for i, chunk := range Chunk(dedupeLast(ops)) {
		if err := t.Transact(ctx, chunk); err != nil {
			return fmt.Errorf("%s (transaction %d): %w", what, i+1, err)
		}
	}
	return nil
}

// dedupeLast keeps the last op per (PartitionKey, RowKey): a transaction may
// touch a row once, and the last write is the one the caller meant.
func dedupeLast(ops []Op) []Op {
	type key struct{ pk, rk string }
	last := make(map[key]int, len(ops))
	for i, op := range ops {
		last[key{op.Entity.PartitionKey, op.Entity.RowKey}] = i
	}
	out := make([]Op, 0, len(last))
	for i, op := range ops {
		if last[key{op.Entity.PartitionKey, op.Entity.RowKey}] == i {
			out = append(out, op)
		}
	}
	return out
}

// GetMapping returns ErrNotFound when the source object is not linked.
func (s *Store) GetMapping(ctx context.Context, customerID, kind, sourceID string) (Mapping, error) {
	var m Mapping
	t, err := s.table(ctx, TableMappings)
	if err != nil {
		return m, err
	}
	e, err := t.Get(ctx, EncodeKey(customerID, kind), EncodeKey(sourceID))
	if err != nil {
		return m, fmt.Errorf("get %s mapping %s of customer %s: %w", kind, sourceID, customerID, err)
	}
	return m, decodeData(e, &m)
}

// ListMappings returns a customer's mappings of one kind.
func (s *Store) ListMappings(ctx context.Context, customerID, kind string) ([]Mapping, error) {
	t, err := s.table(ctx, TableMappings)
	if err != nil {
		return nil, err
	}
	rows, err := t.List(ctx, Query{PartitionKey: EncodeKey(customerID, kind)})
	if err != nil {
		return nil, fmt.Errorf("list %s mappings of customer %s: %w", kind, customerID, err)
	}
	out := make([]Mapping, 0, len(rows))
	for _, e := range rows {
		var m Mapping
		if err := decodeData(e, &m); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// DeleteMappings removes links; missing ones are ignored.
func (s *Store) DeleteMappings(ctx context.Context, customerID, kind string, sourceIDs ...string) error {
	t, err := s.table(ctx, TableMappings)
	if err != nil {
		return err
	}
	for _, id := range sourceIDs {
		err := t.Delete(ctx, EncodeKey(customerID, kind), EncodeKey(id), ETagAny)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("delete %s mapping %s of customer %s: %w", kind, id, customerID, err)
		}
	}
	return nil
}

// --- exclusions

// Exclusion keeps one MIS object out of every sync.
type Exclusion struct {
	CustomerID string    `json:"customerId"`
	Kind       string    `json:"kind"`
	SourceID   string    `json:"sourceId"`
	Reason     string    `json:"reason,omitempty"`
	CreatedAt  time.Time `json:"createdAt,omitzero"`
}

// AddExclusion creates or replaces an exclusion.
func (s *Store) AddExclusion(ctx context.Context, x Exclusion) error {
	t, err := s.table(ctx, TableExclusions)
	if err != nil {
		return err
	}
	if x.CreatedAt.IsZero() {
		x.CreatedAt = s.now().UTC()
	}
	e, err := encodeData(EncodeKey(x.CustomerID, x.Kind), EncodeKey(x.SourceID), x, nil)
	if err != nil {
		return err
	}
	if _, err := t.Upsert(ctx, e); err != nil {
		return fmt.Errorf("add %s exclusion %s of customer %s: %w", x.Kind, x.SourceID, x.CustomerID, err)
	}
	return nil
}

// RemoveExclusion deletes an exclusion; ErrNotFound when there is none.
func (s *Store) RemoveExclusion(ctx context.Context, customerID, kind, sourceID string) error {
	t, err := s.table(ctx, TableExclusions)
	if err != nil {
		return err
	}
	if err := t.Delete(ctx, EncodeKey(customerID, kind), EncodeKey(sourceID), ETagAny); err != nil {
		return fmt.Errorf("remove %s exclusion %s of customer %s: %w", kind, sourceID, customerID, err)
	}
	return nil
}

// ListExclusions returns a customer's exclusions of one kind.
func (s *Store) ListExclusions(ctx context.Context, customerID, kind string) ([]Exclusion, error) {
	t, err := s.table(ctx, TableExclusions)
	if err != nil {
		return nil, err
	}
	rows, err := t.List(ctx, Query{PartitionKey: EncodeKey(customerID, kind)})
	if err != nil {
		return nil, fmt.Errorf("list %s exclusions of customer %s: %w", kind, customerID, err)
	}
	out := make([]Exclusion, 0, len(rows))
	for _, e := range rows {
		var x Exclusion
		if err := decodeData(e, &x); err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, nil
}

// --- dead letters

// Failure is the last reason a queue message failed; when Service Bus
// dead-letters the message, this is the recorded reason.
type Failure struct {
	Queue         string    `json:"queue"`
	MessageID     string    `json:"messageId"`
	DeliveryCount int       `json:"deliveryCount"`
	Reason        string    `json:"reason"`
	Final         bool      `json:"final"`
	Body          string    `json:"body,omitempty"`
	At            time.Time `json:"at"`
}

// maxFailureBody keeps a recorded poison body inside one property.
const maxFailureBody = 8 * 1024

// RecordFailure upserts the failure of a message, keyed by queue and id.
func (s *Store) RecordFailure(ctx context.Context, f Failure) error {
	t, err := s.table(ctx, TableDeadLetters)
	if err != nil {
		return err
	}
	if f.At.IsZero() {
		f.At = s.now().UTC()
	}
	f.Body = truncate(f.Body, maxFailureBody)
	f.Reason = truncate(f.Reason, maxFailureBody)
	e, err := encodeData(EncodeKey(f.Queue), EncodeKey(f.MessageID), f,
		map[string]string{"DeliveryCount": strconv.Itoa(f.DeliveryCount)})
	if err != nil {
		return err
	}
	if _, err := t.Upsert(ctx, e); err != nil {
		return fmt.Errorf("record failure of message %s: %w", f.MessageID, err)
	}
	return nil
}

// Failures lists recorded message failures of a queue.
func (s *Store) Failures(ctx context.Context, queue string) ([]Failure, error) {
	t, err := s.table(ctx, TableDeadLetters)
	if err != nil {
		return nil, err
	}
	rows, err := t.List(ctx, Query{PartitionKey: EncodeKey(queue)})
	if err != nil {
		return nil, fmt.Errorf("list failures of queue %s: %w", queue, err)
	}
	out := make([]Failure, 0, len(rows))
	for _, e := range rows {
		var f Failure
		if err := decodeData(e, &f); err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

// truncate cuts s to at most n bytes on a rune boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…(truncated)"
}
