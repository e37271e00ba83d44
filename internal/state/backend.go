// Package state is rostersync's memory: customers, profiles, mappings,
// exclusions, runs, run logs and sync state.
//
// Store is the typed API the domain uses. It sits on a Backend, a small
// table-shaped interface with Azure Table Storage's semantics (partition and
// row keys, ETags, single-partition transactions of at most 100 operations)
// implemented twice: state/tablestore (aztables; Azurite in tests) and
// state/embedded (in process, persisted to a folder; the local default).
// state/storetest is the contract suite both must pass.
package state

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// Sentinel errors every Backend returns (wrapped) for these conditions.
var (
	ErrNotFound = errors.New("not found")
	// ErrExists: an insert met an entity with the same keys.
	ErrExists = errors.New("already exists")
	// ErrConflict: the ETag did not match; someone else changed the entity.
	ErrConflict = errors.New("changed by someone else (etag mismatch)")
	// ErrInvalidKey: a key is empty, too long or holds a forbidden character.
	ErrInvalidKey = errors.New("invalid key")
	// ErrTooLarge: a property or entity is over Table Storage's limits.
	ErrTooLarge = errors.New("too large")
	// ErrBadTransaction: a transaction breaks Table Storage's rules.
	ErrBadTransaction = errors.New("invalid transaction")
)

// Table Storage limits, enforced by our code because Azurite does not.
const (
	// MaxKeyLength is 1 KiB of UTF-16, i.e. 512 UTF-16 code units (Azurite
	// refuses the 513th); a character outside the BMP counts twice.
	MaxKeyLength = 512
	// MaxPropertyBytes is 64 KiB of UTF-16, i.e. 32 Ki UTF-16 code units;
	// checked on the UTF-8 length, which is never smaller for BMP-only text.
	MaxPropertyBytes = 32 * 1024
	MaxEntityBytes   = 1 << 20
	// MaxProperties excludes PartitionKey, RowKey and Timestamp.
	MaxProperties      = 252
	MaxTransactionOps  = 100
	ETagAny            = "*"
	maxTransactionSize = 4 << 20
)

// Entity is one row. Properties are strings; typed values are encoded by the
// Store, which keeps both backends byte-for-byte alike.
type Entity struct {
	PartitionKey string
	RowKey       string
	// ETag is set by the backend on read and write. Update and Delete
	// compare it; ETagAny matches anything.
	ETag      string
	Timestamp time.Time
	Props     map[string]string
}

// OpKind is a transaction operation.
type OpKind int

const (
	OpInsert OpKind = iota // fails with ErrExists
	OpUpsert               // insert or replace
	OpUpdate               // replace; ETag must match
	OpDelete               // ETag must match; ErrNotFound when missing
)

func (k OpKind) String() string {
	return [...]string{"insert", "upsert", "update", "delete"}[k]
}

// Op is one operation of a transaction.
type Op struct {
	Kind   OpKind
	Entity Entity
}

// Query selects rows of one table. An empty PartitionKey scans every
// partition; RowKeyPrefix narrows within it. Results come in (PartitionKey,
// RowKey) order.
type Query struct {
	PartitionKey string
	RowKeyPrefix string
	// Limit caps the number of rows returned; 0 means all.
	Limit int
	// RowKeyAfter, when set, keeps only rows whose RowKey is strictly
	// greater (ordinal comparison) than it: the continuation of a paged
	// read, given the last RowKey of the previous page. It needs a
	// PartitionKey, since a row key orders rows only within a partition.
	RowKeyAfter string
}

// Table is one named table of a Backend. Implementations are safe for
// concurrent use. Update and Delete refuse an empty ETag: an unconditional
// write must say so with ETagAny, since aztables would otherwise turn an
// update into an upsert.
type Table interface {
	Get(ctx context.Context, pk, rk string) (Entity, error)
	Insert(ctx context.Context, e Entity) (Entity, error)
	Update(ctx context.Context, e Entity) (Entity, error)
	Upsert(ctx context.Context, e Entity) (Entity, error)
	Delete(ctx context.Context, pk, rk, etag string) error
	List(ctx context.Context, q Query) ([]Entity, error)
	// Transact applies ops atomically: all or none. The ops share one
	// PartitionKey, touch each RowKey once and number at most 100; callers
	// split larger work with Chunk.
	Transact(ctx context.Context, ops []Op) error
}

// Backend opens tables, creating them when missing.
type Backend interface {
	Table(ctx context.Context, name string) (Table, error)
}

// ValidateKey checks a PartitionKey or RowKey against Table Storage's rules:
// at most 1 KiB of UTF-16, none of / \ # ? and no control characters.
func ValidateKey(kind, k string) error {
	if k == "" {
		return fmt.Errorf("%w: %s is empty", ErrInvalidKey, kind)
	}
	if !utf8.ValidString(k) {
		return fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalidKey, kind)
	}
	units := 0
	for i, r := range k {
		if forbiddenKeyRune(r) {
			return fmt.Errorf("%w: %s has forbidden character %q at byte %d", ErrInvalidKey, kind, r, i)
		}
		units += utf16.RuneLen(r)
	}
	if units > MaxKeyLength {
		return fmt.Errorf("%w: %s is %d UTF-16 code units, the limit is %d", ErrInvalidKey, kind, units, MaxKeyLength)
	}
	return nil
}

func forbiddenKeyRune(r rune) bool {
	return r == '/' || r == '\\' || r == '#' || r == '?' || r <= 0x1f || (r >= 0x7f && r <= 0x9f)
}

// ValidateEntity checks keys and sizes before a write.
func ValidateEntity(e Entity) error {
	if err := ValidateKey("PartitionKey", e.PartitionKey); err != nil {
		return err
	}
	if err := ValidateKey("RowKey", e.RowKey); err != nil {
		return err
	}
	if len(e.Props) > MaxProperties {
		return fmt.Errorf("entity %s/%s has %d properties, the limit is %d: %w", e.PartitionKey, e.RowKey, len(e.Props), MaxProperties, ErrTooLarge)
	}
	total := len(e.PartitionKey) + len(e.RowKey)
	for name, v := range e.Props {
		if !validPropertyName(name) {
			return fmt.Errorf("entity %s/%s property name %q: want a letter or underscore then letters, digits or underscores: %w", e.PartitionKey, e.RowKey, name, ErrInvalidKey)
		}
		// Table Storage holds UTF-16 text; bytes that are not UTF-8 would be
		// replaced with U+FFFD on the way, silently changing the value.
		if !utf8.ValidString(v) {
			return fmt.Errorf("entity %s/%s property %s is not valid UTF-8", e.PartitionKey, e.RowKey, name)
		}
		if len(v) > MaxPropertyBytes {
			return fmt.Errorf("entity %s/%s property %s is %d bytes, the limit is %d: %w", e.PartitionKey, e.RowKey, name, len(v), MaxPropertyBytes, ErrTooLarge)
		}
		total += len(name) + 2*len(v)
	}
	if total > MaxEntityBytes {
		return fmt.Errorf("entity %s/%s is about %d bytes, the limit is %d: %w", e.PartitionKey, e.RowKey, total, MaxEntityBytes, ErrTooLarge)
	}
	return nil
}

var reservedProps = map[string]bool{"PartitionKey": true, "RowKey": true, "Timestamp": true, "odata": true}

func validPropertyName(name string) bool {
	if name == "" || len(name) > 255 || reservedProps[name] {
		return false
	}
	for i, r := range name {
		letter := r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
		if !letter && (i == 0 || r < '0' || r > '9') {
			return false
		}
	}
	return true
}

// ValidateKeys checks a PartitionKey and RowKey pair.
func ValidateKeys(pk, rk string) error {
	if err := ValidateKey("PartitionKey", pk); err != nil {
		return err
	}
	return ValidateKey("RowKey", rk)
}

// ValidateOp checks one write before a backend performs it: the entity
// (or, for a delete, the keys), and an explicit ETag on update and delete.
func ValidateOp(op Op) error {
	switch op.Kind {
	case OpInsert, OpUpsert, OpUpdate:
		if err := ValidateEntity(op.Entity); err != nil {
			return err
		}
	case OpDelete:
		if err := ValidateKeys(op.Entity.PartitionKey, op.Entity.RowKey); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown operation kind %d", op.Kind)
	}
	if (op.Kind == OpUpdate || op.Kind == OpDelete) && op.Entity.ETag == "" {
		return fmt.Errorf("%s without an etag: pass the etag read earlier, or ETagAny to overwrite unconditionally", op.Kind)
	}
	return nil
}

// ValidateQuery checks a query's keys and limit.
func ValidateQuery(q Query) error {
	if q.PartitionKey != "" {
		if err := ValidateKey("PartitionKey", q.PartitionKey); err != nil {
			return err
		}
	}
	if q.RowKeyPrefix != "" {
		if err := ValidateKey("RowKeyPrefix", q.RowKeyPrefix); err != nil {
			return err
		}
	}
	if q.Limit < 0 {
		return fmt.Errorf("negative limit %d", q.Limit)
	}
	if q.RowKeyAfter != "" {
		if q.PartitionKey == "" {
			return fmt.Errorf("%w: RowKeyAfter needs a PartitionKey", ErrInvalidKey)
		}
		if err := ValidateKey("RowKeyAfter", q.RowKeyAfter); err != nil {
			return err
		}
	}
	return nil
}

// ValidateTransaction checks the rules Azure enforces on entity group
// transactions: 1..100 operations, one PartitionKey, each RowKey once, under
// 4 MiB.
func ValidateTransaction(ops []Op) error {
	if len(ops) == 0 {
		return fmt.Errorf("%w: no operations", ErrBadTransaction)
	}
	if len(ops) > MaxTransactionOps {
		return fmt.Errorf("%w: %d operations, the limit is %d", ErrBadTransaction, len(ops), MaxTransactionOps)
	}
	pk := ops[0].Entity.PartitionKey
	seen := make(map[string]bool, len(ops))
	size := 0
	for i, op := range ops {
		if op.Entity.PartitionKey != pk {
			return fmt.Errorf("%w: operation %d is in partition %q, the first in %q", ErrBadTransaction, i, op.Entity.PartitionKey, pk)
		}
		if seen[op.Entity.RowKey] {
			return fmt.Errorf("%w: row %q appears twice", ErrBadTransaction, op.Entity.RowKey)
		}
		seen[op.Entity.RowKey] = true
		if op.Kind == OpDelete {
			if err := ValidateKey("RowKey", op.Entity.RowKey); err != nil {
				return fmt.Errorf("operation %d: %w", i, err)
			}
			if err := ValidateKey("PartitionKey", op.Entity.PartitionKey); err != nil {
				return fmt.Errorf("operation %d: %w", i, err)
			}
			continue
		}
		if err := ValidateEntity(op.Entity); err != nil {
			return fmt.Errorf("operation %d: %w", i, err)
		}
		for _, v := range op.Entity.Props {
			size += len(v)
		}
	}
	if size > maxTransactionSize {
		return fmt.Errorf("%w: payload about %d bytes, the limit is %d", ErrBadTransaction, size, maxTransactionSize)
	}
	return nil
}

// Chunk splits ops into transactions Azure accepts: grouped by PartitionKey
// (in first-seen order) and at most 100 per group. It does not reorder ops
// within a partition.
func Chunk(ops []Op) [][]Op {
	var order []string
	byPK := map[string][]Op{}
	for _, op := range ops {
		pk := op.Entity.PartitionKey
		if _, ok := byPK[pk]; !ok {
			order = append(order, pk)
		}
		byPK[pk] = append(byPK[pk], op)
	}
	var out [][]Op
	for _, pk := range order {
		group := byPK[pk]
		for len(group) > MaxTransactionOps {
			out = append(out, group[:MaxTransactionOps])
			group = group[MaxTransactionOps:]
		}
		out = append(out, group)
	}
	return out
}

// EncodeKey turns arbitrary ids into one key that can never hold a forbidden
// character: each part is escaped (anything outside [A-Za-z0-9._-@] and
// above ASCII becomes ~XX per byte) and parts are joined with '|'. Plain ids
// stay readable in Storage Explorer, and encoding is reversible.
func EncodeKey(parts ...string) string {
	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			b.WriteByte('|')
		}
		for j := 0; j < len(p); j++ {
			c := p[j]
			if keySafe(c) {
				b.WriteByte(c)
				continue
			}
			fmt.Fprintf(&b, "~%02X", c)
		}
	}
	return b.String()
}

// DecodeKey reverses EncodeKey.
func DecodeKey(k string) ([]string, error) {
	var parts []string
	var cur []byte
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case c == '|':
			parts = append(parts, string(cur))
			cur = cur[:0]
		case c == '~':
			if i+2 >= len(k) {
				return nil, fmt.Errorf("%w: truncated escape at byte %d of %q", ErrInvalidKey, i, k)
			}
			// Exactly two hex digits: Sscanf("%02X") also took "4g" and " 1".
			v, err := strconv.ParseUint(k[i+1:i+3], 16, 8)
			if err != nil {
				return nil, fmt.Errorf("%w: bad escape at byte %d of %q", ErrInvalidKey, i, k)
			}
			cur = append(cur, byte(v))
			i += 2
		default:
			cur = append(cur, c)
		}
	}
	return append(parts, string(cur)), nil
}

func keySafe(c byte) bool {
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		c == '.' || c == '_' || c == '-' || c == '@'
}
