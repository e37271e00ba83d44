// Package embedded is a state.Backend that lives in process and, when given
// a folder, persists each table there as one JSON file. It is rostersync's
// local default: no emulator, no cloud account.
//
// It mirrors Azure Table Storage's semantics rather than merely storing
// rows: keys and sizes are validated exactly as state.ValidateEntity says,
// every write gets a new opaque ETag, Insert fails on an existing row,
// Update and Delete compare ETags, transactions are all-or-nothing and obey
// the 100-operation, one-partition rule, and table names follow Azure's
// rules (case-insensitive, alphanumeric, 3..63 characters). Code that works
// here therefore works against Table Storage; state/storetest holds both to
// the same contract.
//
// A write is durable when it returns: the table's file is rewritten through
// a temporary file and a rename, so a crash leaves either the old or the new
// file, never half of one. Rewriting the whole table on every write is fine
// for the few thousand rows of a local installation, not for production.
//
// One folder belongs to one Backend at a time. Open takes an exclusive lock
// on the folder (on Unix) so that a second process, which would silently
// overwrite the first one's writes, fails to open it instead. Close releases
// the lock.
package embedded

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rostersync/rostersync/internal/state"
)

// tableName is Azure's rule for table names.
var tableName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]{2,62}$`)

// fileFormat versions the JSON layout of a table file.
const fileFormat = 1

// Backend is an in-process state.Backend. It is safe for concurrent use.
type Backend struct {
	dir string // "" keeps everything in memory

	mu     sync.Mutex
	tables map[string]*table // by lower-cased name: Azure names are case-insensitive
	unlock func() error      // releases the folder lock; nil in memory
	closed bool
	blobs  map[string][]byte // in memory only; a folder keeps blobs as files
}

var _ state.Backend = (*Backend)(nil)

// Open returns a Backend persisted in dir, creating the folder when missing
// and loading every table file already in it. dir == "" keeps everything in
// memory.
func Open(dir string) (*Backend, error) {
	b := &Backend{dir: dir, tables: map[string]*table{}}
	if dir == "" {
		return b, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open state folder %s: %w", dir, err)
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return nil, fmt.Errorf("open state folder %s: %w", dir, err)
	}
	b.unlock = unlock
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		_ = unlock()
		return nil, fmt.Errorf("open state folder %s: %w", dir, err)
	}
	for _, path := range files {
		name := strings.TrimSuffix(filepath.Base(path), ".json")
		if !tableName.MatchString(name) {
			continue // not ours (an editor backup, say)
		}
		t, err := loadTable(path)
		if err != nil {
			_ = unlock()
			return nil, fmt.Errorf("open state folder %s: %w", dir, err)
		}
		b.tables[strings.ToLower(t.name)] = t
	}
	return b, nil
}

// Close releases the folder. Writes through tables already handed out fail
// afterwards; reads still see the data in memory.
func (b *Backend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	for _, t := range b.tables {
		t.mu.Lock()
		t.closed = true
		t.mu.Unlock()
	}
	if b.unlock != nil {
		return b.unlock()
	}
	return nil
}

// String describes the backend for logs.
func (b *Backend) String() string {
	if b.dir == "" {
		return "embedded state (memory only)"
	}
	return "embedded state in " + b.dir
}

// Table returns the named table, creating it when missing.
func (b *Backend) Table(ctx context.Context, name string) (state.Table, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("open table %s: %w", name, err)
	}
	if !tableName.MatchString(name) {
		return nil, fmt.Errorf("open table %q: want a letter then 2 to 62 letters or digits", name)
	}
	if strings.EqualFold(name, "tables") {
		return nil, fmt.Errorf("open table %q: the name is reserved by Table Storage", name)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, fmt.Errorf("open table %s: backend is closed", name)
	}
	key := strings.ToLower(name)
	if t, ok := b.tables[key]; ok {
		return t, nil
	}
	t := &table{name: name, rows: map[rowKey]record{}}
	if b.dir != "" {
		t.path = filepath.Join(b.dir, key+".json")
		// Write the empty table now so that it exists on disk, as a created
		// table exists in Azure.
		if err := t.persist(); err != nil {
			return nil, fmt.Errorf("create table %s: %w", name, err)
		}
	}
	b.tables[key] = t
	return t, nil
}

type rowKey struct{ pk, rk string }

type record struct {
	etag      string
	timestamp time.Time
	props     map[string]string // owned by the table; never handed out
}

// table is one table. Its mutex guards rows and the file: a write changes
// memory and rewrites the file under the lock, so the file always holds a
// state some sequence of writes produced.
type table struct {
	name string
	path string // "" in memory

	mu     sync.RWMutex
	rows   map[rowKey]record
	closed bool
}

var _ state.Table = (*table)(nil)

func (t *table) Get(ctx context.Context, pk, rk string) (state.Entity, error) {
	if err := checkKeys(ctx, pk, rk); err != nil {
		return state.Entity{}, fmt.Errorf("get %s/%s from %s: %w", pk, rk, t.name, err)
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	r, ok := t.rows[rowKey{pk, rk}]
	if !ok {
		return state.Entity{}, fmt.Errorf("get %s/%s from %s: %w", pk, rk, t.name, state.ErrNotFound)
	}
	return r.entity(pk, rk), nil
}

func (t *table) Insert(ctx context.Context, e state.Entity) (state.Entity, error) {
	return t.write(ctx, state.OpInsert, e)
}

func (t *table) Update(ctx context.Context, e state.Entity) (state.Entity, error) {
	return t.write(ctx, state.OpUpdate, e)
}

func (t *table) Upsert(ctx context.Context, e state.Entity) (state.Entity, error) {
	return t.write(ctx, state.OpUpsert, e)
}

func (t *table) Delete(ctx context.Context, pk, rk, etag string) error {
	e := state.Entity{PartitionKey: pk, RowKey: rk, ETag: etag}
	_, err := t.write(ctx, state.OpDelete, e)
	return err
}

// write applies one operation: the same path as a one-op transaction, with
// the same validation, so single writes and transactions cannot disagree.
func (t *table) write(ctx context.Context, kind state.OpKind, e state.Entity) (state.Entity, error) {
	what := fmt.Sprintf("%s %s/%s in %s", kind, e.PartitionKey, e.RowKey, t.name)
	if err := ctx.Err(); err != nil {
		return state.Entity{}, fmt.Errorf("%s: %w", what, err)
	}
	if err := state.ValidateOp(state.Op{Kind: kind, Entity: e}); err != nil {
		return state.Entity{}, fmt.Errorf("%s: %w", what, err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	key := rowKey{e.PartitionKey, e.RowKey}
	next, err := t.check(kind, key, e.ETag)
	if err != nil {
		return state.Entity{}, fmt.Errorf("%s: %w", what, err)
	}
	changes := map[rowKey]*record{key: nil}
	if next {
		changes[key] = newRecord(e.Props)
	}
	if err := t.commit(changes); err != nil {
		return state.Entity{}, fmt.Errorf("%s: %w", what, err)
	}
	if !next {
		return state.Entity{}, nil
	}
	return t.rows[key].entity(e.PartitionKey, e.RowKey), nil
}

func (t *table) Transact(ctx context.Context, ops []state.Op) error {
	what := fmt.Sprintf("transaction of %d operations on %s", len(ops), t.name)
	if len(ops) > 0 {
		what += " partition " + ops[0].Entity.PartitionKey
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if err := state.ValidateTransaction(ops); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	for i, op := range ops {
		if err := state.ValidateOp(op); err != nil {
			return fmt.Errorf("%s: operation %d: %w", what, i, err)
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	// Check every operation against the current rows before changing any:
	// that is what makes the transaction all-or-nothing. Each row appears
	// once (ValidateTransaction), so the checks cannot interfere.
	changes := make(map[rowKey]*record, len(ops))
	for i, op := range ops {
		key := rowKey{op.Entity.PartitionKey, op.Entity.RowKey}
		next, err := t.check(op.Kind, key, op.Entity.ETag)
		if err != nil {
			return fmt.Errorf("%s: operation %d (%s %s): %w", what, i, op.Kind, op.Entity.RowKey, err)
		}
		changes[key] = nil
		if next {
			changes[key] = newRecord(op.Entity.Props)
		}
	}
	if err := t.commit(changes); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// check decides whether kind may apply to the row at key given etag, the
// way Table Storage decides it. It reports whether the row exists after the
// operation.
func (t *table) check(kind state.OpKind, key rowKey, etag string) (bool, error) {
	if t.closed {
		return false, errors.New("backend is closed")
	}
	cur, exists := t.rows[key]
	switch kind {
	case state.OpInsert:
		if exists {
			return false, state.ErrExists
		}
		return true, nil
	case state.OpUpsert:
		return true, nil
	case state.OpUpdate, state.OpDelete:
		if !exists {
			return false, state.ErrNotFound
		}
		if etag != state.ETagAny && etag != cur.etag {
			return false, state.ErrConflict
		}
		return kind == state.OpUpdate, nil
	}
	return false, fmt.Errorf("unknown operation kind %d", kind)
}

// commit applies changes (nil: delete) and persists the table. When the file
// cannot be written, memory is rolled back so that a failed write changes
// nothing, as the caller was told.
func (t *table) commit(changes map[rowKey]*record) error {
	type prior struct {
		r      record
		exists bool
	}
	undo := make(map[rowKey]prior, len(changes))
	for k, r := range changes {
		old, ok := t.rows[k]
		undo[k] = prior{old, ok}
		if r == nil {
			delete(t.rows, k)
		} else {
			t.rows[k] = *r
		}
	}
	if err := t.persist(); err != nil {
		for k, p := range undo {
			if p.exists {
				t.rows[k] = p.r
			} else {
				delete(t.rows, k)
			}
		}
		return err
	}
	return nil
}

func (t *table) List(ctx context.Context, q state.Query) ([]state.Entity, error) {
	what := fmt.Sprintf("list %s", t.name)
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if err := state.ValidateQuery(q); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	var keys []rowKey
	for k := range t.rows {
		if q.PartitionKey != "" && k.pk != q.PartitionKey {
			continue
		}
		if !strings.HasPrefix(k.rk, q.RowKeyPrefix) {
			continue
		}
		keys = append(keys, k)
	}
	// Table Storage orders by PartitionKey then RowKey, comparing
	// ordinally; Go's string comparison is the same for the ASCII keys
	// state.EncodeKey produces.
	slices.SortFunc(keys, compareKeys)
	if q.Limit > 0 && len(keys) > q.Limit {
		keys = keys[:q.Limit]
	}
	out := make([]state.Entity, len(keys))
	for i, k := range keys {
		out[i] = t.rows[k].entity(k.pk, k.rk)
	}
	return out, nil
}

func compareKeys(a, b rowKey) int {
	if c := strings.Compare(a.pk, b.pk); c != 0 {
		return c
	}
	return strings.Compare(a.rk, b.rk)
}

// --- validation

func checkKeys(ctx context.Context, pk, rk string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := state.ValidateKey("PartitionKey", pk); err != nil {
		return err
	}
	return state.ValidateKey("RowKey", rk)
}

// validateOp checks one operation the way the service would before touching
// any row. An Update or Delete must say which version it expects: an empty
// ETag is refused rather than read as "any", because aztables would send no
// If-Match at all, which turns an update into an upsert.

// --- records, etags, files

func newRecord(props map[string]string) *record {
	return &record{etag: newETag(), timestamp: time.Now().UTC(), props: cloneProps(props)}
}

func (r record) entity(pk, rk string) state.Entity {
	return state.Entity{PartitionKey: pk, RowKey: rk, ETag: r.etag, Timestamp: r.timestamp, Props: cloneProps(r.props)}
}

// cloneProps copies so that neither a caller's map nor a returned one
// aliases stored data. The result is never nil, as with the service.
func cloneProps(p map[string]string) map[string]string {
	out := make(map[string]string, len(p))
	maps.Copy(out, p)
	return out
}

// newETag returns a fresh opaque ETag. It is random rather than derived
// from the time so that two writes in the same clock tick, or writes after
// a restart, can never share one.
func newETag() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return `W/"` + hex.EncodeToString(b[:]) + `"`
}

// fileEntity is one row as stored on disk.
type fileEntity struct {
	PartitionKey string            `json:"partitionKey"`
	RowKey       string            `json:"rowKey"`
	ETag         string            `json:"etag"`
	Timestamp    time.Time         `json:"timestamp"`
	Props        map[string]string `json:"props"`
}

type fileTable struct {
	Format   int          `json:"format"`
	Table    string       `json:"table"`
	Entities []fileEntity `json:"entities"`
}

func loadTable(path string) (*table, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read table: %w", err)
	}
	var f fileTable
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("read table %s: %w", path, err)
	}
	if f.Format != fileFormat {
		return nil, fmt.Errorf("read table %s: format %d, this build reads %d", path, f.Format, fileFormat)
	}
	if !strings.EqualFold(f.Table+".json", filepath.Base(path)) {
		return nil, fmt.Errorf("read table %s: file holds table %q", path, f.Table)
	}
	t := &table{name: f.Table, path: path, rows: make(map[rowKey]record, len(f.Entities))}
	for _, e := range f.Entities {
		k := rowKey{e.PartitionKey, e.RowKey}
		if _, dup := t.rows[k]; dup {
			return nil, fmt.Errorf("read table %s: row %s/%s appears twice", path, e.PartitionKey, e.RowKey)
		}
		t.rows[k] = record{etag: e.ETag, timestamp: e.Timestamp, props: cloneProps(e.Props)}
	}
	return t, nil
}

// persist writes the whole table to a temporary file in the same folder,
// syncs it and renames it over the table's file: readers of the folder, and
// the next Open after a crash, see the old table or the new one.
func (t *table) persist() error {
	if t.path == "" {
		return nil
	}
	keys := slices.SortedFunc(maps.Keys(t.rows), compareKeys)
	f := fileTable{Format: fileFormat, Table: t.name, Entities: make([]fileEntity, len(keys))}
	for i, k := range keys {
		r := t.rows[k]
		f.Entities[i] = fileEntity{PartitionKey: k.pk, RowKey: k.rk, ETag: r.etag, Timestamp: r.timestamp, Props: r.props}
	}
	data, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("encode table %s: %w", t.name, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(t.path), "."+filepath.Base(t.path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("save table %s: %w", t.name, err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename this fails harmlessly
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("save table %s: %w", t.name, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("save table %s: %w", t.name, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save table %s: %w", t.name, err)
	}
	if err := os.Rename(tmp.Name(), t.path); err != nil {
		return fmt.Errorf("save table %s: %w", t.name, err)
	}
	return nil
}
