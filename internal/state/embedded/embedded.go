// Package embedded is a state.Backend that lives in process and, when given
// a folder, persists its tables there in one bbolt database (state.db). It
// is rostersync's local default: no emulator, no cloud account.
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
// A write is durable when it returns: each write or transaction is one
// bbolt transaction, fsync'd on commit, so a crash leaves the database as
// it was before the write or after it, never between. A table is one
// bucket whose keys are PartitionKey, a zero byte, then RowKey: keys cannot
// hold control characters, so the zero byte sorts before anything a key
// may hold and bucket order is Table Storage's order (PartitionKey, then
// RowKey, ordinally). A write costs O(log n) in the table's size, where
// the folder format before this one rewrote the whole table on every write.
//
// Folders written by earlier builds (one JSON file per table) are migrated
// on Open: each table file is copied into the database in one transaction,
// then renamed to NAME.json.migrated.
//
// Without a folder the tables are maps in memory, behind the same checks
// (see rows): a bbolt file in a temporary folder would fsync for nothing
// and outlive a Backend nobody closed.
//
// One folder belongs to one Backend at a time. Open takes an exclusive lock
// on the folder (on Unix) so that a second process, which would silently
// overwrite the first one's writes, fails to open it instead. Close releases
// the lock.
package embedded

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
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

	bolt "go.etcd.io/bbolt"

	"github.com/rostersync/rostersync/internal/state"
)

// tableName is Azure's rule for table names.
var tableName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]{2,62}$`)

const (
	// dbFile is the database's file in the state folder.
	dbFile = "state.db"
	// legacyFormat versions the JSON layout of the table files that
	// earlier builds wrote and Open migrates.
	legacyFormat = 1
	// migratedSuffix is appended to a table file once it is migrated.
	migratedSuffix = ".migrated"
	// recordFormat versions the encoding of one stored row.
	recordFormat byte = 1
	// keySep separates PartitionKey from RowKey in a bucket key.
	keySep byte = 0
)

// Backend is an in-process state.Backend. It is safe for concurrent use.
type Backend struct {
	dir string   // "" keeps everything in memory
	db  *bolt.DB // nil in memory

	mu     sync.Mutex
	tables map[string]*table // by lower-cased name: Azure names are case-insensitive
	unlock func() error      // releases the folder lock; nil in memory
	closed bool
	blobs  map[string][]byte // in memory only; a folder keeps blobs as files
}

var _ state.Backend = (*Backend)(nil)

// Open returns a Backend persisted in dir, creating the folder and its
// database when missing and migrating table files an earlier build left
// there. dir == "" keeps everything in memory.
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
	// The folder lock already excludes other Backends; the timeout only
	// bounds the wait should something else hold the file.
	db, err := bolt.Open(filepath.Join(dir, dbFile), 0o600, &bolt.Options{Timeout: 5 * time.Second, FreelistType: bolt.FreelistMapType})
	if err != nil {
		_ = unlock()
		return nil, fmt.Errorf("open state folder %s: %w", dir, err)
	}
	if err := migrate(db, dir); err != nil {
		_ = db.Close()
		_ = unlock()
		return nil, fmt.Errorf("open state folder %s: %w", dir, err)
	}
	b.db, b.unlock = db, unlock
	return b, nil
}

// migrate copies every table file of the earlier JSON format into db, one
// transaction per table, then renames the file so it is read only once. A
// crash between the commit and the rename repeats the copy next time,
// which replaces the bucket with the same rows: nothing could write to it
// in between, since Open had not returned.
func migrate(db *bolt.DB, dir string) error {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return err
	}
	for _, path := range files {
		name := strings.TrimSuffix(filepath.Base(path), ".json")
		if !tableName.MatchString(name) {
			continue // not ours (an editor backup, say)
		}
		lt, err := loadLegacyTable(path)
		if err != nil {
			return fmt.Errorf("migrate %s: %w", path, err)
		}
		err = db.Update(func(tx *bolt.Tx) error {
			bucket := []byte(strings.ToLower(lt.name))
			if tx.Bucket(bucket) != nil {
				if err := tx.DeleteBucket(bucket); err != nil {
					return err
				}
			}
			bk, err := tx.CreateBucket(bucket)
			if err != nil {
				return err
			}
			for _, k := range slices.SortedFunc(maps.Keys(lt.rows), compareKeys) {
				if err := bk.Put(encodeKey(k), encodeRecord(lt.rows[k])); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("migrate %s: %w", path, err)
		}
		if err := os.Rename(path, path+migratedSuffix); err != nil {
			return fmt.Errorf("migrate %s: %w", path, err)
		}
	}
	return nil
}

// Close releases the folder. Writes through tables already handed out fail
// afterwards; so do reads of a folder's tables (in memory they still see
// the data).
func (b *Backend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	var errs []error
	if b.db != nil {
		if err := b.db.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close %s: %w", b.dir, err))
		}
	}
	if b.unlock != nil {
		errs = append(errs, b.unlock())
	}
	return errors.Join(errs...)
}

func (b *Backend) isClosed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
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
	t := &table{name: name, b: b, bucket: []byte(key)}
	if b.db == nil {
		t.mem = map[rowKey]record{}
	} else {
		// Create the bucket now so that the table exists on disk, as a
		// created table exists in Azure.
		err := b.db.Update(func(tx *bolt.Tx) error {
			_, err := tx.CreateBucketIfNotExists(t.bucket)
			return err
		})
		if err != nil {
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

// table is one table: a bucket of the Backend's database, or (in memory)
// mem guarded by mu.
type table struct {
	name   string
	b      *Backend
	bucket []byte // the lower-cased name

	mu  sync.RWMutex
	mem map[rowKey]record // nil in a folder
}

var _ state.Table = (*table)(nil)

// rows is one table's storage seen from inside one read or write: a bbolt
// bucket in a transaction, or the in-memory map under the table's lock.
// Writes check every operation against it before changing it, whichever it
// is, so the two cannot disagree on the rules.
type rows interface {
	get(k rowKey) (record, bool, error)
	put(k rowKey, r record) error
	del(k rowKey) error
	// scan calls fn for the rows of partition pk (every partition when pk
	// is "") whose RowKey starts with prefix and (after != "", which needs
	// a pk) is greater than after, in key order, until fn returns false.
	scan(pk, prefix, after string, fn func(rowKey, record) bool) error
}

// view runs fn with the table's rows for reading.
func (t *table) view(fn func(rows) error) error {
	if t.mem == nil {
		return t.b.db.View(func(tx *bolt.Tx) error {
			bk := tx.Bucket(t.bucket)
			if bk == nil {
				return fmt.Errorf("table %s is missing from %s", t.name, dbFile)
			}
			return fn(boltRows{bk})
		})
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	return fn(memRows(t.mem))
}

// update runs fn with the table's rows for writing: all of fn's changes
// are kept, durably, or (when fn fails) none.
func (t *table) update(fn func(rows) error) error {
	if t.b.isClosed() {
		return errors.New("backend is closed")
	}
	if t.mem == nil {
		return t.b.db.Update(func(tx *bolt.Tx) error {
			bk := tx.Bucket(t.bucket)
			if bk == nil {
				return fmt.Errorf("table %s is missing from %s", t.name, dbFile)
			}
			return fn(boltRows{bk})
		})
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	// fn checks every operation before its first change, and changes to
	// the map cannot fail, so a failed fn has changed nothing.
	return fn(memRows(t.mem))
}

func (t *table) Get(ctx context.Context, pk, rk string) (state.Entity, error) {
	if err := checkKeys(ctx, pk, rk); err != nil {
		return state.Entity{}, fmt.Errorf("get %s/%s from %s: %w", pk, rk, t.name, err)
	}
	var (
		r  record
		ok bool
	)
	err := t.view(func(rs rows) error {
		var err error
		r, ok, err = rs.get(rowKey{pk, rk})
		return err
	})
	if err != nil {
		return state.Entity{}, fmt.Errorf("get %s/%s from %s: %w", pk, rk, t.name, err)
	}
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

// write applies one operation: the same path as a transaction, with the
// same validation, so single writes and transactions cannot disagree.
func (t *table) write(ctx context.Context, kind state.OpKind, e state.Entity) (state.Entity, error) {
	what := fmt.Sprintf("%s %s/%s in %s", kind, e.PartitionKey, e.RowKey, t.name)
	if err := ctx.Err(); err != nil {
		return state.Entity{}, fmt.Errorf("%s: %w", what, err)
	}
	if err := state.ValidateOp(state.Op{Kind: kind, Entity: e}); err != nil {
		return state.Entity{}, fmt.Errorf("%s: %w", what, err)
	}
	written, err := t.apply([]state.Op{{Kind: kind, Entity: e}})
	if err != nil {
		return state.Entity{}, fmt.Errorf("%s: %w", what, err)
	}
	if written[0] == nil {
		return state.Entity{}, nil
	}
	return written[0].entity(e.PartitionKey, e.RowKey), nil
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
	if _, err := t.apply(ops); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// opError is an operation a transaction refused.
type opError struct {
	i   int
	op  state.Op
	err error
}

func (e *opError) Error() string {
	return fmt.Sprintf("operation %d (%s %s): %v", e.i, e.op.Kind, e.op.Entity.RowKey, e.err)
}

func (e *opError) Unwrap() error { return e.err }

// apply checks every operation against the current rows, then (all
// passing) makes them in one transaction. It returns, per operation, the
// row written (nil for a delete). Each row appears once
// (ValidateTransaction), so the checks cannot interfere.
func (t *table) apply(ops []state.Op) ([]*record, error) {
	written := make([]*record, len(ops))
	err := t.update(func(rs rows) error {
		for i, op := range ops {
			key := rowKey{op.Entity.PartitionKey, op.Entity.RowKey}
			next, err := check(rs, op.Kind, key, op.Entity.ETag)
			if err != nil {
				if len(ops) == 1 {
					return err
				}
				return &opError{i, op, err}
			}
			if next {
				written[i] = newRecord(op.Entity.Props)
			}
		}
		for i, op := range ops {
			key := rowKey{op.Entity.PartitionKey, op.Entity.RowKey}
			var err error
			if written[i] == nil {
				err = rs.del(key)
			} else {
				err = rs.put(key, *written[i])
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	return written, err
}

// check decides whether kind may apply to the row at key given etag, the
// way Table Storage decides it. It reports whether the row exists after the
// operation.
func check(rs rows, kind state.OpKind, key rowKey, etag string) (bool, error) {
	cur, exists, err := rs.get(key)
	if err != nil {
		return false, err
	}
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

func (t *table) List(ctx context.Context, q state.Query) ([]state.Entity, error) {
	what := fmt.Sprintf("list %s", t.name)
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if err := state.ValidateQuery(q); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	var out []state.Entity
	err := t.view(func(rs rows) error {
		out = nil // a retried read starts again
		return rs.scan(q.PartitionKey, q.RowKeyPrefix, q.RowKeyAfter, func(k rowKey, r record) bool {
			out = append(out, r.entity(k.pk, k.rk))
			return q.Limit <= 0 || len(out) < q.Limit
		})
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if out == nil {
		out = []state.Entity{}
	}
	return out, nil
}

func compareKeys(a, b rowKey) int {
	if c := strings.Compare(a.pk, b.pk); c != 0 {
		return c
	}
	return strings.Compare(a.rk, b.rk)
}

// --- the two kinds of rows

// memRows is a table in memory. scan sorts what matches: Table Storage
// orders by PartitionKey then RowKey, comparing ordinally, and Go's string
// comparison is the same byte order.
type memRows map[rowKey]record

func (m memRows) get(k rowKey) (record, bool, error) {
	r, ok := m[k]
	return r, ok, nil
}

func (m memRows) put(k rowKey, r record) error { m[k] = r; return nil }
func (m memRows) del(k rowKey) error           { delete(m, k); return nil }

func (m memRows) scan(pk, prefix, after string, fn func(rowKey, record) bool) error {
	var keys []rowKey
	for k := range m {
		if (pk == "" || k.pk == pk) && strings.HasPrefix(k.rk, prefix) && (after == "" || k.rk > after) {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, compareKeys)
	for _, k := range keys {
		if !fn(k, m[k]) {
			break
		}
	}
	return nil
}

// boltRows is a table in the database: one bucket, keyed by encodeKey.
type boltRows struct{ bk *bolt.Bucket }

func (b boltRows) get(k rowKey) (record, bool, error) {
	v := b.bk.Get(encodeKey(k))
	if v == nil {
		return record{}, false, nil
	}
	r, err := decodeRecord(v)
	if err != nil {
		return record{}, false, fmt.Errorf("row %s/%s: %w", k.pk, k.rk, err)
	}
	return r, true, nil
}

func (b boltRows) put(k rowKey, r record) error { return b.bk.Put(encodeKey(k), encodeRecord(r)) }
func (b boltRows) del(k rowKey) error           { return b.bk.Delete(encodeKey(k)) }

func (b boltRows) scan(pk, prefix, after string, fn func(rowKey, record) bool) error {
	c := b.bk.Cursor()
	// Within a partition the rows with a prefix are one run of keys,
	// starting at the prefix itself; a continuation starts at after when
	// that is further on.
	var within []byte
	var k, v []byte
	if pk == "" {
		k, v = c.First()
	} else {
		within = encodeKey(rowKey{pk, prefix})
		k, v = c.Seek(encodeKey(rowKey{pk, max(prefix, after)}))
	}
	for ; k != nil; k, v = c.Next() {
		if within != nil && !bytes.HasPrefix(k, within) {
			return nil // past the partition, or past the prefix within it
		}
		key, err := decodeKey(k)
		if err != nil {
			return err
		}
		if !strings.HasPrefix(key.rk, prefix) || (after != "" && key.rk <= after) {
			continue // a scan of every partition, or the row after names
		}
		r, err := decodeRecord(v)
		if err != nil {
			return fmt.Errorf("row %s/%s: %w", key.pk, key.rk, err)
		}
		if !fn(key, r) {
			return nil
		}
	}
	return nil
}

// encodeKey is PartitionKey, a zero byte, RowKey. Keys hold no control
// characters (state.ValidateKey), so the split is unambiguous and byte
// order is (PartitionKey, RowKey) order.
func encodeKey(k rowKey) []byte {
	out := make([]byte, 0, len(k.pk)+1+len(k.rk))
	out = append(out, k.pk...)
	out = append(out, keySep)
	return append(out, k.rk...)
}

func decodeKey(b []byte) (rowKey, error) {
	i := bytes.IndexByte(b, keySep)
	if i < 0 {
		return rowKey{}, fmt.Errorf("stored key %q has no separator", b)
	}
	return rowKey{string(b[:i]), string(b[i+1:])}, nil
}

// encodeRecord is the format byte, then the ETag, the timestamp (Unix
// seconds as a varint, nanoseconds as a uvarint) and the property count,
// each property's name and value: strings as a uvarint length and bytes.
// Properties are written in name order so equal rows encode alike.
func encodeRecord(r record) []byte {
	size := 1 + 2*binary.MaxVarintLen64 + len(r.etag) + 3*binary.MaxVarintLen64
	for n, v := range r.props {
		size += 2*binary.MaxVarintLen64 + len(n) + len(v)
	}
	out := make([]byte, 0, size)
	out = append(out, recordFormat)
	out = appendString(out, r.etag)
	out = binary.AppendVarint(out, r.timestamp.Unix())
	out = binary.AppendUvarint(out, uint64(r.timestamp.Nanosecond()))
	out = binary.AppendUvarint(out, uint64(len(r.props)))
	for _, n := range slices.Sorted(maps.Keys(r.props)) {
		out = appendString(out, n)
		out = appendString(out, r.props[n])
	}
	return out
}

func appendString(out []byte, s string) []byte {
	out = binary.AppendUvarint(out, uint64(len(s)))
	return append(out, s...)
}

var errCorrupt = errors.New("stored row is corrupt")

func decodeRecord(b []byte) (record, error) {
	if len(b) == 0 || b[0] != recordFormat {
		return record{}, fmt.Errorf("%w: unknown format", errCorrupt)
	}
	d := decoder{b: b[1:]}
	etag := d.string()
	sec := d.varint()
	nsec := d.uvarint()
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.b)) {
		return record{}, fmt.Errorf("%w: header", errCorrupt)
	}
	props := make(map[string]string, n)
	for range n {
		name := d.string()
		props[name] = d.string()
	}
	if d.err != nil || len(d.b) != 0 {
		return record{}, fmt.Errorf("%w: properties", errCorrupt)
	}
	return record{etag: etag, timestamp: time.Unix(sec, int64(nsec)).UTC(), props: props}, nil
}

// decoder reads what encodeRecord wrote; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errCorrupt
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errCorrupt
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.b)) {
		d.err = errCorrupt
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
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

// --- records, etags

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

// --- the table files of earlier builds

// legacyEntity is one row as an earlier build stored it.
type legacyEntity struct {
	PartitionKey string            `json:"partitionKey"`
	RowKey       string            `json:"rowKey"`
	ETag         string            `json:"etag"`
	Timestamp    time.Time         `json:"timestamp"`
	Props        map[string]string `json:"props"`
}

type legacyFile struct {
	Format   int            `json:"format"`
	Table    string         `json:"table"`
	Entities []legacyEntity `json:"entities"`
}

type legacyTable struct {
	name string
	rows map[rowKey]record
}

func loadLegacyTable(path string) (legacyTable, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return legacyTable{}, fmt.Errorf("read table: %w", err)
	}
	var f legacyFile
	if err := json.Unmarshal(data, &f); err != nil {
		return legacyTable{}, fmt.Errorf("read table %s: %w", path, err)
	}
	if f.Format != legacyFormat {
		return legacyTable{}, fmt.Errorf("read table %s: format %d, this build reads %d", path, f.Format, legacyFormat)
	}
	if !strings.EqualFold(f.Table+".json", filepath.Base(path)) {
		return legacyTable{}, fmt.Errorf("read table %s: file holds table %q", path, f.Table)
	}
	t := legacyTable{name: f.Table, rows: make(map[rowKey]record, len(f.Entities))}
	for _, e := range f.Entities {
		k := rowKey{e.PartitionKey, e.RowKey}
		if _, dup := t.rows[k]; dup {
			return legacyTable{}, fmt.Errorf("read table %s: row %s/%s appears twice", path, e.PartitionKey, e.RowKey)
		}
		if err := state.ValidateKeys(e.PartitionKey, e.RowKey); err != nil {
			return legacyTable{}, fmt.Errorf("read table %s: row %s/%s: %w", path, e.PartitionKey, e.RowKey, err)
		}
		t.rows[k] = record{etag: e.ETag, timestamp: e.Timestamp.UTC(), props: cloneProps(e.Props)}
	}
	return t, nil
}
