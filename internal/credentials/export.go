package credentials

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rostersync/rostersync/internal/state"
)

// Export, then acknowledge: exporting never deletes a credential. It
// records an export covering exactly the rows it returns, under an id
// derived from those rows, so concurrent exports of the same rows get the
// same id; only acknowledging that id destroys them, and an export never
// acknowledged is destroyed when it expires.
//
// Rows of the credentials table, told apart by the number of parts in their
// PartitionKey (EncodeKey escapes '|', so the shapes cannot collide):
//
//	credential  PK (customer, run)            RK (person)               Sealed
//	member      PK (customer, run, export)    RK (person)               Digest of the Sealed it covers
//	index       PK "exports"                  RK (customer, run, export) Created, Expires, Count, Acknowledged
//
// The index row is written after the members and removed after them, so an
// index row always has its members complete until it is acknowledged.

const (
	exportsPK        = "exports"
	propSealed       = "Sealed"
	propDigest       = "Digest"
	propCreated      = "Created"
	propExpires      = "Expires"
	propCount        = "Count"
	propAcked        = "Acknowledged"
	maxDestroyRounds = 10 // re-reads after a concurrent change
)

// ErrAcknowledged marks an export whose credentials were already destroyed
// by its acknowledgement.
var ErrAcknowledged = errors.New("export already acknowledged")

// Export is one set of credentials handed over, waiting for its
// acknowledgement.
type Export struct {
	// ID is empty when there was nothing to export.
	ID          string       `json:"id,omitempty"`
	Created     time.Time    `json:"created,omitzero"`
	Expires     time.Time    `json:"expires,omitzero"`
	Credentials []Credential `json:"-"`
}

// sealedRow is one credential row as stored, not decrypted.
type sealedRow struct {
	key    string
	entity state.Entity
	digest string
}

func digestOf(sealedB64 string) string {
	sum := sha256.Sum256([]byte(sealedB64))
	return hex.EncodeToString(sum[:16])
}

// exportID is a digest of the sorted (person, sealed digest) pairs: the
// same rows give the same id, and a replaced password gives another.
func exportID(customerID, runID string, rows []sealedRow) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00", customerID, runID)
	for _, r := range rows {
		fmt.Fprintf(h, "%s\x00%s\x00", r.key, r.digest)
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

func indexRK(customerID, runID, id string) string { return state.EncodeKey(customerID, runID, id) }
func membersPK(customerID, runID, id string) string {
	return state.EncodeKey(customerID, runID, id)
}

// listSealed reads a run's credential rows, sorted by person.
func (v *Vault) listSealed(ctx context.Context, t state.Table, customerID, runID string) ([]sealedRow, error) {
	rows, err := t.List(ctx, state.Query{PartitionKey: state.EncodeKey(customerID, runID)})
	if err != nil {
		return nil, fmt.Errorf("list credentials of run %s: %w", runID, err)
	}
	out := make([]sealedRow, 0, len(rows))
	for _, r := range rows {
		parts, err := state.DecodeKey(r.RowKey)
		if err != nil || len(parts) != 1 {
			return nil, fmt.Errorf("credential row %q: bad key", r.RowKey)
		}
		out = append(out, sealedRow{key: parts[0], entity: r, digest: digestOf(r.Props[propSealed])})
	}
	slices.SortFunc(out, func(a, b sealedRow) int { return strings.Compare(a.key, b.key) })
	return out, nil
}

func (v *Vault) open(customerID, runID string, r sealedRow) (Credential, error) {
	box, err := base64.StdEncoding.DecodeString(r.entity.Props[propSealed])
	if err != nil || len(box) < v.aead.NonceSize() {
		return Credential{}, fmt.Errorf("credential of %s: damaged row", r.key)
	}
	plain, err := v.aead.Open(nil, box[:v.aead.NonceSize()], box[v.aead.NonceSize():], aad(customerID, runID, r.key))
	if err != nil {
		return Credential{}, fmt.Errorf("credential of %s: cannot decrypt (wrong key, or the row was moved): %w", r.key, ErrKey)
	}
	var s sealed
	if err := json.Unmarshal(plain, &s); err != nil {
		return Credential{}, fmt.Errorf("credential of %s: %w", r.key, err)
	}
	return Credential{Key: r.key, UPN: s.UPN, Password: s.Password}, nil
}

type index struct {
	customerID, runID, id string
	created, expires      time.Time
	acknowledged          time.Time
	etag                  string
}

func parseIndex(e state.Entity) (index, error) {
	parts, err := state.DecodeKey(e.RowKey)
	if err != nil || len(parts) != 3 {
		return index{}, fmt.Errorf("export index row %q: bad key", e.RowKey)
	}
	ix := index{customerID: parts[0], runID: parts[1], id: parts[2], etag: e.ETag}
	if ix.created, err = time.Parse(time.RFC3339Nano, e.Props[propCreated]); err != nil {
		return index{}, fmt.Errorf("export %s: created: %w", ix.id, err)
	}
	if ix.expires, err = time.Parse(time.RFC3339Nano, e.Props[propExpires]); err != nil {
		return index{}, fmt.Errorf("export %s: expires: %w", ix.id, err)
	}
	if s := e.Props[propAcked]; s != "" {
		if ix.acknowledged, err = time.Parse(time.RFC3339Nano, s); err != nil {
			return index{}, fmt.Errorf("export %s: acknowledged: %w", ix.id, err)
		}
	}
	return ix, nil
}

func (ix index) expired(now time.Time) bool { return !now.Before(ix.expires) }

func (v *Vault) getIndex(ctx context.Context, t state.Table, customerID, runID, id string) (index, error) {
	e, err := t.Get(ctx, exportsPK, indexRK(customerID, runID, id))
	if err != nil {
		return index{}, fmt.Errorf("export %s of run %s: %w", id, runID, err)
	}
	return parseIndex(e)
}

// Export returns a run's credentials (of the given people, or all when
// keys is empty) with the id of an export covering exactly those rows. It
// deletes nothing: the rows stay until Acknowledge is called with the id,
// or the export expires. Calling it again, concurrently or after a dropped
// connection, returns the same rows under the same id.
func (v *Vault) Export(ctx context.Context, customerID, runID string, keys []string) (Export, error) {
	t, err := v.backend.Table(ctx, TableCredentials)
	if err != nil {
		return Export{}, fmt.Errorf("open credentials table: %w", err)
	}
	for attempt := 0; ; attempt++ {
		rows, err := v.listSealed(ctx, t, customerID, runID)
		if err != nil {
			return Export{}, err
		}
		if len(keys) > 0 {
			only := make(map[string]bool, len(keys))
			for _, k := range keys {
				only[k] = true
			}
			rows = slices.DeleteFunc(rows, func(r sealedRow) bool { return !only[r.key] })
		}
		if len(rows) == 0 {
			return Export{}, nil
		}
		creds := make([]Credential, 0, len(rows))
		for _, r := range rows {
			c, err := v.open(customerID, runID, r)
			if err != nil {
				return Export{}, err
			}
			creds = append(creds, c)
		}
		id := exportID(customerID, runID, rows)
		ix, err := v.getIndex(ctx, t, customerID, runID, id)
		switch {
		case err == nil && ix.expired(v.now()):
			// Expired but not purged yet: it must not be handed out again.
			if attempt > 0 {
				return Export{}, fmt.Errorf("export %s of run %s expired while being read", id, runID)
			}
			if _, err := v.destroyExport(ctx, t, ix); err != nil {
				return Export{}, err
			}
			continue
		case err == nil:
			return Export{ID: id, Created: ix.created, Expires: ix.expires, Credentials: creds}, nil
		case !errors.Is(err, state.ErrNotFound):
			return Export{}, err
		}
		return v.record(ctx, t, customerID, runID, id, rows, creds)
	}
}

// record writes an export's members, then its index row. Members are
// upserts with content fixed by the id, so exporters racing on the same id
// write the same rows; the index insert decides whose times are kept.
func (v *Vault) record(ctx context.Context, t state.Table, customerID, runID, id string, rows []sealedRow, creds []Credential) (Export, error) {
	ops := make([]state.Op, 0, len(rows))
	for _, r := range rows {
		ops = append(ops, state.Op{Kind: state.OpUpsert, Entity: state.Entity{PartitionKey: membersPK(customerID, runID, id),
			RowKey: r.entity.RowKey, Props: map[string]string{propDigest: r.digest}}})
	}
	for _, chunk := range state.Chunk(ops) {
		if err := t.Transact(ctx, chunk); err != nil {
			return Export{}, fmt.Errorf("record export %s of run %s: %w", id, runID, err)
		}
	}
	now := v.now().UTC()
	ex := Export{ID: id, Created: now, Expires: now.Add(v.exportTTL), Credentials: creds}
	_, err := t.Insert(ctx, state.Entity{PartitionKey: exportsPK, RowKey: indexRK(customerID, runID, id), Props: map[string]string{
		propCreated: ex.Created.Format(time.RFC3339Nano), propExpires: ex.Expires.Format(time.RFC3339Nano), propCount: strconv.Itoa(len(rows))}})
	if errors.Is(err, state.ErrExists) {
		ix, err := v.getIndex(ctx, t, customerID, runID, id)
		if err != nil {
			return Export{}, err
		}
		ex.Created, ex.Expires = ix.created, ix.expires
		return ex, nil
	}
	if err != nil {
		return Export{}, fmt.Errorf("record export %s of run %s: %w", id, runID, err)
	}
	return ex, nil
}

// ExportByID fetches an unacknowledged export again: those of its
// credentials that still exist (all of them, unless an acknowledgement
// stopped part way). It answers ErrNotFound for an unknown or expired id
// and ErrAcknowledged once the export was acknowledged.
func (v *Vault) ExportByID(ctx context.Context, customerID, runID, id string) (Export, error) {
	t, err := v.backend.Table(ctx, TableCredentials)
	if err != nil {
		return Export{}, fmt.Errorf("open credentials table: %w", err)
	}
	ix, err := v.getIndex(ctx, t, customerID, runID, id)
	if err != nil {
		return Export{}, err
	}
	if !ix.acknowledged.IsZero() {
		return Export{}, fmt.Errorf("export %s of run %s: %w", id, runID, ErrAcknowledged)
	}
	if ix.expired(v.now()) {
		if _, err := v.destroyExport(ctx, t, ix); err != nil {
			return Export{}, err
		}
		return Export{}, fmt.Errorf("export %s of run %s expired: %w", id, runID, state.ErrNotFound)
	}
	covered, err := v.covered(ctx, t, ix)
	if err != nil {
		return Export{}, err
	}
	ex := Export{ID: id, Created: ix.created, Expires: ix.expires}
	for _, r := range covered {
		c, err := v.open(customerID, runID, r)
		if err != nil {
			return Export{}, err
		}
		ex.Credentials = append(ex.Credentials, c)
	}
	return ex, nil
}

// covered returns the credential rows an export still covers: those whose
// content is what the export handed over. A row replaced since (a newer
// password) is not covered; it was never delivered.
func (v *Vault) covered(ctx context.Context, t state.Table, ix index) ([]sealedRow, error) {
	members, err := t.List(ctx, state.Query{PartitionKey: membersPK(ix.customerID, ix.runID, ix.id)})
	if err != nil {
		return nil, fmt.Errorf("members of export %s: %w", ix.id, err)
	}
	want := make(map[string]string, len(members))
	for _, m := range members {
		want[m.RowKey] = m.Props[propDigest]
	}
	rows, err := v.listSealed(ctx, t, ix.customerID, ix.runID)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(rows, func(r sealedRow) bool {
		d, ok := want[r.entity.RowKey]
		return !ok || d != r.digest
	}), nil
}

// Acknowledge destroys exactly the credentials export id handed over and
// returns how many it destroyed. It is idempotent: acknowledging again
// destroys nothing more and succeeds. The rows go in transactions of at
// most a hundred, each guarded by the rows' ETags; if one fails, the rows
// not yet destroyed stay fetchable and calling Acknowledge again finishes.
// An unknown (or expired and purged) id is ErrNotFound.
func (v *Vault) Acknowledge(ctx context.Context, customerID, runID, id string) (int, error) {
	t, err := v.backend.Table(ctx, TableCredentials)
	if err != nil {
		return 0, fmt.Errorf("open credentials table: %w", err)
	}
	ix, err := v.getIndex(ctx, t, customerID, runID, id)
	if err != nil {
		return 0, err
	}
	if !ix.acknowledged.IsZero() {
		return 0, nil
	}
	n, err := v.destroyMembers(ctx, t, ix)
	if err != nil {
		return n, err
	}
	e := state.Entity{PartitionKey: exportsPK, RowKey: indexRK(customerID, runID, id), ETag: state.ETagAny, Props: map[string]string{
		propCreated: ix.created.Format(time.RFC3339Nano), propExpires: ix.expires.Format(time.RFC3339Nano),
		propAcked: v.now().UTC().Format(time.RFC3339Nano)}}
	// The tombstone keeps a repeated acknowledgement answering success
	// until the export would have expired; the purge removes it then.
	if _, err := t.Update(ctx, e); err != nil && !errors.Is(err, state.ErrNotFound) {
		return n, fmt.Errorf("mark export %s of run %s acknowledged: %w", id, runID, err)
	}
	return n, nil
}

// destroyMembers deletes the credentials an export covers, then its member
// rows. A concurrent change (another acknowledgement, a replaced password)
// makes a guarded transaction fail as a whole; the state is then read again.
func (v *Vault) destroyMembers(ctx context.Context, t state.Table, ix index) (int, error) {
	destroyed := 0
	for range maxDestroyRounds {
		rows, err := v.covered(ctx, t, ix)
		if err != nil {
			return destroyed, err
		}
		ops := make([]state.Op, 0, len(rows))
		for _, r := range rows {
			ops = append(ops, state.Op{Kind: state.OpDelete, Entity: state.Entity{PartitionKey: r.entity.PartitionKey, RowKey: r.entity.RowKey, ETag: r.entity.ETag}})
		}
		n, raced, err := transactAll(ctx, t, ops)
		destroyed += n
		if err != nil {
			return destroyed, fmt.Errorf("destroy %d credentials of export %s of run %s: %w", len(ops)-n, ix.id, ix.runID, err)
		}
		if raced {
			continue
		}
		members, err := t.List(ctx, state.Query{PartitionKey: membersPK(ix.customerID, ix.runID, ix.id)})
		if err != nil {
			return destroyed, fmt.Errorf("members of export %s: %w", ix.id, err)
		}
		ops = ops[:0]
		for _, m := range members {
			ops = append(ops, state.Op{Kind: state.OpDelete, Entity: state.Entity{PartitionKey: m.PartitionKey, RowKey: m.RowKey, ETag: m.ETag}})
		}
		_, raced, err = transactAll(ctx, t, ops)
		if err != nil {
			return destroyed, fmt.Errorf("remove members of export %s of run %s: %w", ix.id, ix.runID, err)
		}
		if !raced {
			return destroyed, nil
		}
	}
	return destroyed, fmt.Errorf("export %s of run %s: %w: kept changing while being destroyed", ix.id, ix.runID, state.ErrConflict)
}

// transactAll runs ops in Table Storage sized transactions. raced reports
// a transaction refused because a row changed or vanished since it was read.
func transactAll(ctx context.Context, t state.Table, ops []state.Op) (done int, raced bool, err error) {
	for _, chunk := range state.Chunk(ops) {
		if err := t.Transact(ctx, chunk); err != nil {
			if errors.Is(err, state.ErrConflict) || errors.Is(err, state.ErrNotFound) {
				return done, true, nil
			}
			return done, false, err
		}
		done += len(chunk)
	}
	return done, false, nil
}

// destroyExport destroys an expired export: its credentials (unless it was
// acknowledged), its members and its index row.
func (v *Vault) destroyExport(ctx context.Context, t state.Table, ix index) (int, error) {
	n, err := v.destroyMembers(ctx, t, ix)
	if err != nil {
		return n, err
	}
	err = t.Delete(ctx, exportsPK, indexRK(ix.customerID, ix.runID, ix.id), ix.etag)
	if err != nil && !errors.Is(err, state.ErrNotFound) && !errors.Is(err, state.ErrConflict) {
		// A conflict is an acknowledgement that just landed: the next
		// purge removes its tombstone.
		return n, fmt.Errorf("remove export %s of run %s: %w", ix.id, ix.runID, err)
	}
	return n, nil
}

// PurgeReport says what a purge destroyed: ids and counts only.
type PurgeReport struct {
	Exports     int
	Credentials int
}

// Purge destroys every export that expired by now: the credentials of one
// never acknowledged, and the records of all. The scheduler's tick calls
// it; one export's failure does not stop the others.
func (v *Vault) Purge(ctx context.Context, now time.Time) (PurgeReport, error) {
	var rep PurgeReport
	t, err := v.backend.Table(ctx, TableCredentials)
	if err != nil {
		return rep, fmt.Errorf("open credentials table: %w", err)
	}
	rows, err := t.List(ctx, state.Query{PartitionKey: exportsPK})
	if err != nil {
		return rep, fmt.Errorf("list exports: %w", err)
	}
	var errs []error
	for _, e := range rows {
		ix, err := parseIndex(e)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !ix.expired(now) {
			continue
		}
		n, err := v.destroyExport(ctx, t, ix)
		rep.Credentials += n
		if err != nil {
			errs = append(errs, err)
			continue
		}
		rep.Exports++
	}
	return rep, errors.Join(errs...)
}
