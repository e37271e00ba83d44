// Package storetest is the contract every state.Backend meets: Azure Table
// Storage's semantics as state.Backend documents them, and the typed
// state.Store working on top. Each backend's tests call Run, so the embedded
// backend and the Table Storage one are held to exactly the same cases.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rostersync/rostersync/internal/state"
)

// Run runs the contract suite. newBackend must return a backend that shares
// no tables with any other it returned (a fresh folder, or a fresh table
// prefix); it is called once per subtest.
func Run(t *testing.T, newBackend func(t *testing.T) state.Backend) {
	t.Run("TableNames", func(t *testing.T) { testTableNames(t, newBackend(t)) })
	t.Run("Entities", func(t *testing.T) { testEntities(t, newBackend(t)) })
	t.Run("ETags", func(t *testing.T) { testETags(t, newBackend(t)) })
	t.Run("Timestamps", func(t *testing.T) { testTimestamps(t, newBackend(t)) })
	t.Run("Copies", func(t *testing.T) { testCopies(t, newBackend(t)) })
	t.Run("ForbiddenKeys", func(t *testing.T) { testForbiddenKeys(t, newBackend(t)) })
	t.Run("KeyRoundTrip", func(t *testing.T) { testKeyRoundTrip(t, newBackend(t)) })
	t.Run("Sizes", func(t *testing.T) { testSizes(t, newBackend(t)) })
	t.Run("List", func(t *testing.T) { testList(t, newBackend(t)) })
	t.Run("ListPages", func(t *testing.T) { testListPages(t, newBackend(t)) })
	t.Run("Transact", func(t *testing.T) { testTransact(t, newBackend(t)) })
	t.Run("Chunk", func(t *testing.T) { testChunk(t, newBackend(t)) })
	t.Run("Concurrency", func(t *testing.T) { testConcurrency(t, newBackend(t)) })
	t.Run("Store", func(t *testing.T) { runStore(t, newBackend) })
}

// errAny in a case's wantErr means "some error, no particular sentinel".
var errAny = errors.New("any error")

// checkErr fails unless err matches want: nil, errAny or a sentinel.
func checkErr(t *testing.T, what string, err, want error) bool {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Errorf("%s: unexpected error: %v", what, err)
		return false
	case want == errAny && err == nil:
		t.Errorf("%s = nil error, want an error", what)
		return false
	case want != nil && want != errAny && !errors.Is(err, want):
		t.Errorf("%s = %v, want %v", what, err, want)
		return false
	}
	return true
}

func openTable(t *testing.T, b state.Backend, name string) state.Table {
	t.Helper()
	tb, err := b.Table(t.Context(), name)
	if err != nil {
		t.Fatalf("Table(%q): %v", name, err)
	}
	return tb
}

// ent builds an entity from key/value pairs.
func ent(pk, rk string, kv ...string) state.Entity {
	props := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		props[kv[i]] = kv[i+1]
	}
	return state.Entity{PartitionKey: pk, RowKey: rk, Props: props}
}

// row is what the contract compares: keys and props, not ETags or times.
type row struct {
	PK, RK string
	Props  map[string]string
}

func (r row) String() string {
	keys := slices.Sorted(maps.Keys(r.Props))
	var b strings.Builder
	fmt.Fprintf(&b, "%s/%s{", r.PK, r.RK)
	for i, k := range keys {
		if i > 0 {
			b.WriteString(" ")
		}
		v := r.Props[k]
		if len(v) > 20 {
			v = v[:20] + fmt.Sprintf("…(%d bytes)", len(v))
		}
		fmt.Fprintf(&b, "%s=%q", k, v)
	}
	b.WriteString("}")
	return b.String()
}

func rowOf(e state.Entity) row {
	p := e.Props
	if p == nil {
		p = map[string]string{}
	}
	return row{e.PartitionKey, e.RowKey, p}
}

func rowsOf(es []state.Entity) []row {
	out := make([]row, len(es))
	for i, e := range es {
		out[i] = rowOf(e)
	}
	return out
}

// dump lists the whole table.
func dump(t *testing.T, tb state.Table) []row {
	t.Helper()
	es, err := tb.List(t.Context(), state.Query{})
	if err != nil {
		t.Fatalf("List(all): %v", err)
	}
	return rowsOf(es)
}

func sameRows(got, want []row) bool {
	if len(got) == 0 && len(want) == 0 {
		return true
	}
	return reflect.DeepEqual(got, want)
}

func checkRows(t *testing.T, what string, got, want []row) {
	t.Helper()
	if !sameRows(got, want) {
		t.Errorf("%s:\n got  %v\n want %v", what, got, want)
	}
}

// seed inserts es and returns the stored entities by RowKey.
func seed(t *testing.T, tb state.Table, es ...state.Entity) map[string]state.Entity {
	t.Helper()
	out := map[string]state.Entity{}
	for _, e := range es {
		got, err := tb.Insert(t.Context(), e)
		if err != nil {
			t.Fatalf("seed Insert(%s/%s): %v", e.PartitionKey, e.RowKey, err)
		}
		out[e.RowKey] = got
	}
	return out
}

func testTableNames(t *testing.T, b state.Backend) {
	ctx := t.Context()
	for _, name := range []string{"abc", "Tbl123", "a" + strings.Repeat("b", 50)} {
		if _, err := b.Table(ctx, name); err != nil {
			t.Errorf("Table(%q): %v", name, err)
		}
	}
	for _, name := range []string{"", "ab", "1abc", "has-dash", "has_underscore", "has space", "tables", "ünï"} {
		if _, err := b.Table(ctx, name); err == nil {
			t.Errorf("Table(%q) = nil error, want the name refused", name)
		}
	}
	// Table names are case-insensitive in Azure: two spellings, one table.
	lower := openTable(t, b, "mixedcase")
	if _, err := lower.Insert(ctx, ent("p", "r", "V", "1")); err != nil {
		t.Fatalf("Insert: %v", err)
	}
	upper := openTable(t, b, "MixedCase")
	if _, err := upper.Get(ctx, "p", "r"); err != nil {
		t.Errorf("Get through another spelling of the table name: %v", err)
	}
	// Opening again returns a working table over the same rows.
	again := openTable(t, b, "mixedcase")
	checkRows(t, "rows after reopening", dump(t, again), []row{{"p", "r", map[string]string{"V": "1"}}})
}

// entityCase is one single-entity behaviour: seed rows, do something, and
// compare the error and the table afterwards.
type entityCase struct {
	name    string
	seed    []state.Entity
	do      func(ctx context.Context, tb state.Table, seeded map[string]state.Entity) error
	wantErr error
	want    []row
}

func testEntities(t *testing.T, b state.Backend) {
	a1 := ent("p", "a", "X", "1", "Y", "y")
	aRow := rowOf(a1)
	cases := []entityCase{
		{
			name: "insert new",
			do: func(ctx context.Context, tb state.Table, _ map[string]state.Entity) error {
				_, err := tb.Insert(ctx, a1)
				return err
			},
			want: []row{aRow},
		},
		{
			name: "insert without props",
			do: func(ctx context.Context, tb state.Table, _ map[string]state.Entity) error {
				_, err := tb.Insert(ctx, state.Entity{PartitionKey: "p", RowKey: "bare"})
				return err
			},
			want: []row{{"p", "bare", map[string]string{}}},
		},
		{
			name: "empty value round-trips",
			do: func(ctx context.Context, tb state.Table, _ map[string]state.Entity) error {
				_, err := tb.Insert(ctx, ent("p", "e", "Empty", "", "Spaces", "  x  ", "Newline", "a\nb"))
				return err
			},
			want: []row{{"p", "e", map[string]string{"Empty": "", "Spaces": "  x  ", "Newline": "a\nb"}}},
		},
		{
			name: "insert existing",
			seed: []state.Entity{a1},
			do: func(ctx context.Context, tb state.Table, _ map[string]state.Entity) error {
				_, err := tb.Insert(ctx, ent("p", "a", "X", "2"))
				return err
			},
			wantErr: state.ErrExists,
			want:    []row{aRow},
		},
		{
			name: "get",
			seed: []state.Entity{a1},
			do: func(ctx context.Context, tb state.Table, _ map[string]state.Entity) error {
				got, err := tb.Get(ctx, "p", "a")
				if err != nil {
					return err
				}
				if !reflect.DeepEqual(rowOf(got), aRow) {
					return fmt.Errorf("get = %v, want %v", rowOf(got), aRow)
				}
				return nil
			},
			want: []row{aRow},
		},
		{
			name: "get missing",
			seed: []state.Entity{a1},
			do: func(ctx context.Context, tb state.Table, _ map[string]state.Entity) error {
				_, err := tb.Get(ctx, "p", "zz")
				return err
			},
			wantErr: state.ErrNotFound,
			want:    []row{aRow},
		},
		{
			name: "get from another partition",
			seed: []state.Entity{a1},
			do: func(ctx context.Context, tb state.Table, _ map[string]state.Entity) error {
				_, err := tb.Get(ctx, "q", "a")
				return err
			},
			wantErr: state.ErrNotFound,
			want:    []row{aRow},
		},
		{
			name: "update with current etag replaces every prop",
			seed: []state.Entity{a1},
			do: func(ctx context.Context, tb state.Table, s map[string]state.Entity) error {
				e := ent("p", "a", "X", "2")
				e.ETag = s["a"].ETag
				_, err := tb.Update(ctx, e)
				return err
			},
			want: []row{{"p", "a", map[string]string{"X": "2"}}},
		},
		{
			name: "update with stale etag",
			seed: []state.Entity{a1},
			do: func(ctx context.Context, tb state.Table, s map[string]state.Entity) error {
				e := ent("p", "a", "X", "2")
				e.ETag = s["a"].ETag
				if _, err := tb.Update(ctx, e); err != nil {
					return fmt.Errorf("first update: %w (want success)", err)
				}
				e = ent("p", "a", "X", "3")
				e.ETag = s["a"].ETag // the one the first update made stale
				_, err := tb.Update(ctx, e)
				return err
			},
			wantErr: state.ErrConflict,
			want:    []row{{"p", "a", map[string]string{"X": "2"}}},
		},
		{
			name: "update with ETagAny",
			seed: []state.Entity{a1},
			do: func(ctx context.Context, tb state.Table, _ map[string]state.Entity) error {
				e := ent("p", "a", "X", "any")
				e.ETag = state.ETagAny
				_, err := tb.Update(ctx, e)
				return err
			},
			want: []row{{"p", "a", map[string]string{"X": "any"}}},
		},
		{
			name: "update missing with ETagAny",
			seed: []state.Entity{a1},
			do: func(ctx context.Context, tb state.Table, _ map[string]state.Entity) error {
				e := ent("p", "zz", "X", "1")
				e.ETag = state.ETagAny
				_, err := tb.Update(ctx, e)
				return err
			},
			wantErr: state.ErrNotFound,
			want:    []row{aRow},
		},
		{
			name: "update missing with an etag of another row",
			seed: []state.Entity{a1},
			do: func(ctx context.Context, tb state.Table, s map[string]state.Entity) error {
				e := ent("p", "zz", "X", "1")
				e.ETag = s["a"].ETag
				_, err := tb.Update(ctx, e)
				return err
			},
			wantErr: state.ErrNotFound,
			want:    []row{aRow},
		},
		{
			name: "update without etag is refused",
			seed: []state.Entity{a1},
			do: func(ctx context.Context, tb state.Table, _ map[string]state.Entity) error {
				_, err := tb.Update(ctx, ent("p", "a", "X", "2"))
				return err
			},
			wantErr: errAny,
			want:    []row{aRow},
		},
		{
			name: "upsert new",
			do: func(ctx context.Context, tb state.Table, _ map[string]state.Entity) error {
				_, err := tb.Upsert(ctx, a1)
				return err
			},
			want: []row{aRow},
		},
		{
			name: "upsert existing replaces every prop",
			seed: []state.Entity{a1},
			do: func(ctx context.Context, tb state.Table, _ map[string]state.Entity) error {
				_, err := tb.Upsert(ctx, ent("p", "a", "Z", "z"))
				return err
			},
			want: []row{{"p", "a", map[string]string{"Z": "z"}}},
		},
		{
			name: "upsert ignores the etag",
			seed: []state.Entity{a1},
			do: func(ctx context.Context, tb state.Table, _ map[string]state.Entity) error {
				e := ent("p", "a", "Z", "z")
				e.ETag = `W/"not-the-etag"`
				_, err := tb.Upsert(ctx, e)
				return err
			},
			want: []row{{"p", "a", map[string]string{"Z": "z"}}},
		},
		{
			name: "delete with current etag",
			seed: []state.Entity{a1, ent("p", "b")},
			do: func(ctx context.Context, tb state.Table, s map[string]state.Entity) error {
				return tb.Delete(ctx, "p", "a", s["a"].ETag)
			},
			want: []row{{"p", "b", map[string]string{}}},
		},
		{
			name: "delete with stale etag",
			seed: []state.Entity{a1},
			do: func(ctx context.Context, tb state.Table, s map[string]state.Entity) error {
				if _, err := tb.Upsert(ctx, ent("p", "a", "X", "2")); err != nil {
					return fmt.Errorf("upsert: %w (want success)", err)
				}
				return tb.Delete(ctx, "p", "a", s["a"].ETag)
			},
			wantErr: state.ErrConflict,
			want:    []row{{"p", "a", map[string]string{"X": "2"}}},
		},
		{
			name: "delete with ETagAny",
			seed: []state.Entity{a1},
			do: func(ctx context.Context, tb state.Table, _ map[string]state.Entity) error {
				return tb.Delete(ctx, "p", "a", state.ETagAny)
			},
			want: nil,
		},
		{
			name: "delete missing",
			seed: []state.Entity{a1},
			do: func(ctx context.Context, tb state.Table, _ map[string]state.Entity) error {
				return tb.Delete(ctx, "p", "zz", state.ETagAny)
			},
			wantErr: state.ErrNotFound,
			want:    []row{aRow},
		},
		{
			name: "delete without etag is refused",
			seed: []state.Entity{a1},
			do: func(ctx context.Context, tb state.Table, _ map[string]state.Entity) error {
				return tb.Delete(ctx, "p", "a", "")
			},
			wantErr: errAny,
			want:    []row{aRow},
		},
		{
			name: "delete then insert again",
			seed: []state.Entity{a1},
			do: func(ctx context.Context, tb state.Table, _ map[string]state.Entity) error {
				if err := tb.Delete(ctx, "p", "a", state.ETagAny); err != nil {
					return err
				}
				_, err := tb.Insert(ctx, ent("p", "a", "New", "1"))
				return err
			},
			want: []row{{"p", "a", map[string]string{"New": "1"}}},
		},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tb := openTable(t, b, fmt.Sprintf("entities%02d", i))
			s := seed(t, tb, tc.seed...)
			err := tc.do(t.Context(), tb, s)
			checkErr(t, tc.name, err, tc.wantErr)
			checkRows(t, "table afterwards", dump(t, tb), tc.want)
		})
	}
}

func testETags(t *testing.T, b state.Backend) {
	ctx := t.Context()
	tb := openTable(t, b, "etags")
	seen := map[string]string{}
	note := func(what, etag string) {
		t.Helper()
		if etag == "" {
			t.Errorf("%s returned an empty ETag", what)
			return
		}
		if prev, dup := seen[etag]; dup {
			t.Errorf("%s returned ETag %s, already returned by %s: every write needs a new one", what, etag, prev)
		}
		seen[etag] = what
	}
	ins, err := tb.Insert(ctx, ent("p", "a", "N", "0"))
	if err != nil {
		t.Fatal(err)
	}
	note("Insert", ins.ETag)
	got, err := tb.Get(ctx, "p", "a")
	if err != nil {
		t.Fatal(err)
	}
	if got.ETag != ins.ETag {
		t.Errorf("Get ETag = %s, want the one Insert returned, %s", got.ETag, ins.ETag)
	}
	cur := ins.ETag
	// Several quick writes in a row: each must get its own ETag even within
	// one clock tick.
	for i := range 5 {
		e := ent("p", "a", "N", strconv.Itoa(i+1))
		e.ETag = cur
		upd, err := tb.Update(ctx, e)
		if err != nil {
			t.Fatalf("Update %d with the latest ETag: %v", i, err)
		}
		note(fmt.Sprintf("Update %d", i), upd.ETag)
		cur = upd.ETag
	}
	ups, err := tb.Upsert(ctx, ent("p", "a", "N", "upserted"))
	if err != nil {
		t.Fatal(err)
	}
	note("Upsert", ups.ETag)
	stale := ent("p", "a", "N", "stale")
	stale.ETag = cur
	if _, err := tb.Update(ctx, stale); !errors.Is(err, state.ErrConflict) {
		t.Errorf("Update with the ETag from before an Upsert = %v, want ErrConflict", err)
	}
	// ETags from List are as good as those from Get.
	listed, err := tb.List(ctx, state.Query{PartitionKey: "p"})
	if err != nil || len(listed) != 1 {
		t.Fatalf("List = %v, %v; want one entity", listed, err)
	}
	if listed[0].ETag != ups.ETag {
		t.Errorf("List ETag = %s, want the latest, %s", listed[0].ETag, ups.ETag)
	}
	e := ent("p", "a", "N", "via-list")
	e.ETag = listed[0].ETag
	if _, err := tb.Update(ctx, e); err != nil {
		t.Errorf("Update with an ETag from List: %v", err)
	}
	// A transaction's writes change ETags too.
	before, err := tb.Get(ctx, "p", "a")
	if err != nil {
		t.Fatal(err)
	}
	if err := tb.Transact(ctx, []state.Op{{Kind: state.OpUpsert, Entity: ent("p", "a", "N", "tx")}}); err != nil {
		t.Fatal(err)
	}
	after, err := tb.Get(ctx, "p", "a")
	if err != nil {
		t.Fatal(err)
	}
	if after.ETag == before.ETag {
		t.Errorf("ETag unchanged by a transaction's upsert: %s", after.ETag)
	}
}

func testTimestamps(t *testing.T, b state.Backend) {
	ctx := t.Context()
	tb := openTable(t, b, "timestamps")
	start := time.Now()
	if _, err := tb.Insert(ctx, ent("p", "a")); err != nil {
		t.Fatal(err)
	}
	first, err := tb.Get(ctx, "p", "a")
	if err != nil {
		t.Fatal(err)
	}
	// The service's clock is not ours (Azurite runs beside us, Azure does
	// not), so allow some skew.
	const skew = 2 * time.Minute
	if first.Timestamp.IsZero() || first.Timestamp.Before(start.Add(-skew)) || first.Timestamp.After(time.Now().Add(skew)) {
		t.Errorf("Timestamp after insert = %v, want about %v", first.Timestamp, start)
	}
	time.Sleep(5 * time.Millisecond)
	if _, err := tb.Upsert(ctx, ent("p", "a", "X", "1")); err != nil {
		t.Fatal(err)
	}
	second, err := tb.Get(ctx, "p", "a")
	if err != nil {
		t.Fatal(err)
	}
	if !second.Timestamp.After(first.Timestamp) {
		t.Errorf("Timestamp after a later write = %v, want after %v", second.Timestamp, first.Timestamp)
	}
	listed, err := tb.List(ctx, state.Query{})
	if err != nil || len(listed) != 1 {
		t.Fatalf("List = %v, %v", listed, err)
	}
	if !listed[0].Timestamp.Equal(second.Timestamp) {
		t.Errorf("List Timestamp = %v, Get Timestamp = %v; want equal", listed[0].Timestamp, second.Timestamp)
	}
}

func testCopies(t *testing.T, b state.Backend) {
	ctx := t.Context()
	tb := openTable(t, b, "copies")
	in := ent("p", "a", "X", "1")
	ret, err := tb.Insert(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	in.Props["X"] = "changed by caller after insert"
	in.Props["Extra"] = "added by caller"
	ret.Props["X"] = "changed in the returned entity"
	got, err := tb.Get(ctx, "p", "a")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"X": "1"}
	if !reflect.DeepEqual(got.Props, want) {
		t.Errorf("after the caller changed its maps, Get props = %v, want %v", got.Props, want)
	}
	got.Props["X"] = "changed after get"
	listed, err := tb.List(ctx, state.Query{})
	if err != nil {
		t.Fatal(err)
	}
	listed[0].Props["X"] = "changed after list"
	again, err := tb.Get(ctx, "p", "a")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(again.Props, want) {
		t.Errorf("after the caller changed returned maps, Get props = %v, want %v", again.Props, want)
	}
}

// forbiddenKeys are keys Table Storage refuses (/ \ # ? and control
// characters) or cannot hold (empty, over 1 KiB). Azurite accepts some of
// them, which is why the backends must check first.
var forbiddenKeys = map[string]string{
	"slash":                "a/b",
	"backslash":            `a\b`,
	"hash":                 "a#b",
	"question":             "a?b",
	"tab":                  "a\tb",
	"newline":              "a\nb",
	"nul":                  "a\x00b",
	"del":                  "a\x7fb",
	"next line":            "a\u0085b",
	"empty":                "",
	"over 1 KiB":           strings.Repeat("k", state.MaxKeyLength+1),
	"over 1 KiB of UTF-16": strings.Repeat("😀", state.MaxKeyLength/2) + "k",
	"invalid utf8":         "a\xffb",
}

func testForbiddenKeys(t *testing.T, b state.Backend) {
	tb := openTable(t, b, "forbidden")
	ops := []struct {
		name string
		do   func(ctx context.Context, pk, rk string) error
	}{
		{"Get", func(ctx context.Context, pk, rk string) error { _, err := tb.Get(ctx, pk, rk); return err }},
		{"Insert", func(ctx context.Context, pk, rk string) error {
			_, err := tb.Insert(ctx, ent(pk, rk, "X", "1"))
			return err
		}},
		{"Upsert", func(ctx context.Context, pk, rk string) error {
			_, err := tb.Upsert(ctx, ent(pk, rk, "X", "1"))
			return err
		}},
		{"Update", func(ctx context.Context, pk, rk string) error {
			e := ent(pk, rk, "X", "1")
			e.ETag = state.ETagAny
			_, err := tb.Update(ctx, e)
			return err
		}},
		{"Delete", func(ctx context.Context, pk, rk string) error { return tb.Delete(ctx, pk, rk, state.ETagAny) }},
		{"Transact", func(ctx context.Context, pk, rk string) error {
			return tb.Transact(ctx, []state.Op{{Kind: state.OpInsert, Entity: ent(pk, rk)}})
		}},
		{"TransactDelete", func(ctx context.Context, pk, rk string) error {
			return tb.Transact(ctx, []state.Op{{Kind: state.OpDelete, Entity: state.Entity{PartitionKey: pk, RowKey: rk, ETag: state.ETagAny}}})
		}},
	}
	for _, name := range slices.Sorted(maps.Keys(forbiddenKeys)) {
		bad := forbiddenKeys[name]
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			for _, op := range ops {
				checkErr(t, fmt.Sprintf("%s with bad PartitionKey", op.name), op.do(ctx, bad, "ok"), state.ErrInvalidKey)
				checkErr(t, fmt.Sprintf("%s with bad RowKey", op.name), op.do(ctx, "ok", bad), state.ErrInvalidKey)
			}
			if bad != "" {
				_, err := tb.List(ctx, state.Query{PartitionKey: bad})
				checkErr(t, "List with bad PartitionKey", err, state.ErrInvalidKey)
				_, err = tb.List(ctx, state.Query{PartitionKey: "ok", RowKeyPrefix: bad})
				checkErr(t, "List with bad RowKeyPrefix", err, state.ErrInvalidKey)
			}
		})
	}
	checkRows(t, "table after refused writes", dump(t, tb), nil)
	// The longest keys allowed are allowed: 1 KiB of UTF-16, however many
	// bytes of UTF-8 that is.
	for _, long := range []string{
		strings.Repeat("k", state.MaxKeyLength),
		strings.Repeat("é", state.MaxKeyLength),
		strings.Repeat("😀", state.MaxKeyLength/2),
	} {
		if _, err := tb.Insert(t.Context(), ent(long, long)); err != nil {
			t.Errorf("Insert with %d-byte keys: %v", len(long), err)
		}
	}
}

func testKeyRoundTrip(t *testing.T, b state.Backend) {
	ctx := t.Context()
	tb := openTable(t, b, "keyroundtrip")
	// Ids from the outside world holding every forbidden character, made
	// safe with EncodeKey.
	ids := [][]string{
		{"a/b", `c\d`},
		{"x#y?z", "tab\there"},
		{"del\x7f", "nel\u0085"},
		{"", "empty part"},
		{"pipe|tilde~", "ünï😀"},
		{"user@school.example", "O'Brien"},
	}
	for _, parts := range ids {
		pk, rk := state.EncodeKey("pk", parts[0]), state.EncodeKey(parts...)
		if _, err := tb.Insert(ctx, ent(pk, rk, "Id", strings.Join(parts, "|"))); err != nil {
			t.Errorf("Insert(EncodeKey(%q)): %v", parts, err)
			continue
		}
		got, err := tb.Get(ctx, pk, rk)
		if err != nil {
			t.Errorf("Get(EncodeKey(%q)): %v", parts, err)
			continue
		}
		dec, err := state.DecodeKey(got.RowKey)
		if err != nil || !slices.Equal(dec, parts) {
			t.Errorf("DecodeKey(%q) = %q, %v; want %q", got.RowKey, dec, err, parts)
		}
		listed, err := tb.List(ctx, state.Query{PartitionKey: pk, RowKeyPrefix: rk})
		if err != nil || len(listed) != 1 || listed[0].RowKey != rk {
			t.Errorf("List(EncodeKey(%q)) = %v, %v; want the one row", parts, rowsOf(listed), err)
		}
	}
	// Characters Table Storage allows in keys pass through unencoded: quotes
	// (OData doubles them), spaces, percent signs, non-ASCII.
	for _, k := range []string{"it's", "''", "a b", "100%", "%41", "a+b", "a&b=c", "(x),[y]", "$x*", "ünï", "日本", "😀", "a.b-c_d@e"} {
		if _, err := tb.Insert(ctx, ent(k, k, "K", k)); err != nil {
			t.Errorf("Insert(%q, %q): %v", k, k, err)
			continue
		}
		got, err := tb.Get(ctx, k, k)
		if err != nil {
			t.Errorf("Get(%q, %q): %v", k, k, err)
			continue
		}
		if got.PartitionKey != k || got.RowKey != k || got.Props["K"] != k {
			t.Errorf("Get(%q, %q) = %v", k, k, rowOf(got))
		}
		listed, err := tb.List(ctx, state.Query{PartitionKey: k, RowKeyPrefix: k})
		if err != nil || len(listed) != 1 || listed[0].RowKey != k {
			t.Errorf("List(%q, prefix %q) = %v, %v; want the one row", k, k, rowsOf(listed), err)
		}
		e := ent(k, k, "K", "updated")
		e.ETag = got.ETag
		if _, err := tb.Update(ctx, e); err != nil {
			t.Errorf("Update(%q, %q): %v", k, k, err)
		}
		if err := tb.Delete(ctx, k, k, state.ETagAny); err != nil {
			t.Errorf("Delete(%q, %q): %v", k, k, err)
		}
	}
}

func testSizes(t *testing.T, b state.Backend) {
	many := func(n, size int) state.Entity {
		e := ent("p", "r")
		for i := range n {
			e.Props[fmt.Sprintf("P%03d", i)] = strings.Repeat("v", size)
		}
		return e
	}
	cases := []struct {
		name    string
		e       state.Entity
		wantErr error
	}{
		{"property at the limit", ent("p", "r", "Big", strings.Repeat("x", state.MaxPropertyBytes)), nil},
		{"property over the limit", ent("p", "r", "Big", strings.Repeat("x", state.MaxPropertyBytes+1)), state.ErrTooLarge},
		{"multi-byte property over the limit", ent("p", "r", "Big", strings.Repeat("é", state.MaxPropertyBytes/2+1)), state.ErrTooLarge},
		{"252 properties", many(state.MaxProperties, 1), nil},
		{"253 properties", many(state.MaxProperties+1, 1), state.ErrTooLarge},
		{"entity over 1 MiB", many(40, 30000), state.ErrTooLarge},
		{"property name with a dash", ent("p", "r", "bad-name", "v"), state.ErrInvalidKey},
		{"property name starting with a digit", ent("p", "r", "1abc", "v"), state.ErrInvalidKey},
		{"property named PartitionKey", ent("p", "r", "PartitionKey", "v"), state.ErrInvalidKey},
		{"property named Timestamp", ent("p", "r", "Timestamp", "v"), state.ErrInvalidKey},
		{"empty property name", ent("p", "r", "", "v"), state.ErrInvalidKey},
		{"invalid UTF-8 value", ent("p", "r", "V", "a\xffb"), errAny},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			tb := openTable(t, b, fmt.Sprintf("sizes%02d", i))
			_, err := tb.Insert(ctx, tc.e)
			checkErr(t, "Insert", err, tc.wantErr)
			_, err = tb.Upsert(ctx, tc.e)
			checkErr(t, "Upsert", err, tc.wantErr)
			err = tb.Transact(ctx, []state.Op{{Kind: state.OpUpsert, Entity: tc.e}})
			checkErr(t, "Transact", err, tc.wantErr)
			var want []row
			if tc.wantErr == nil {
				want = []row{rowOf(tc.e)}
			}
			checkRows(t, "table afterwards", dump(t, tb), want)
		})
	}
}

func testList(t *testing.T, b state.Backend) {
	ctx := t.Context()
	tb := openTable(t, b, "list")
	keys := [][2]string{
		{"p1", "a"}, {"p1", "b"}, {"p1", "b1"}, {"p1", "b2"}, {"p1", "b3"}, {"p1", "c"},
		{"p10", "a"}, {"p2", "a"}, {"p2", "b1"},
		{"q", "o'k1"}, {"q", "o'k2"}, {"q", "ok"},
		{"u", "é1"}, {"u", "é2"}, {"u", "ê"},
	}
	// Insert in a scrambled order: the order of List is the backend's job.
	r := rand.New(rand.NewPCG(1, 2))
	for _, i := range r.Perm(len(keys)) {
		k := keys[i]
		if _, err := tb.Insert(ctx, ent(k[0], k[1], "K", k[0]+"/"+k[1])); err != nil {
			t.Fatal(err)
		}
	}
	ks := func(pairs ...string) []string { return pairs }
	cases := []struct {
		name string
		q    state.Query
		want []string
	}{
		{"everything in key order", state.Query{}, ks("p1/a", "p1/b", "p1/b1", "p1/b2", "p1/b3", "p1/c", "p10/a", "p2/a", "p2/b1", "q/o'k1", "q/o'k2", "q/ok", "u/é1", "u/é2", "u/ê")},
		{"one partition", state.Query{PartitionKey: "p1"}, ks("p1/a", "p1/b", "p1/b1", "p1/b2", "p1/b3", "p1/c")},
		{"partition is exact, not a prefix", state.Query{PartitionKey: "p"}, nil},
		{"row prefix", state.Query{PartitionKey: "p1", RowKeyPrefix: "b"}, ks("p1/b", "p1/b1", "p1/b2", "p1/b3")},
		{"row prefix that is a whole key", state.Query{PartitionKey: "p1", RowKeyPrefix: "b2"}, ks("p1/b2")},
		{"row prefix matching nothing", state.Query{PartitionKey: "p1", RowKeyPrefix: "zz"}, nil},
		{"row prefix with a quote", state.Query{PartitionKey: "q", RowKeyPrefix: "o'"}, ks("q/o'k1", "q/o'k2")},
		{"non-ASCII row prefix", state.Query{PartitionKey: "u", RowKeyPrefix: "é"}, ks("u/é1", "u/é2")},
		{"row prefix across partitions", state.Query{RowKeyPrefix: "a"}, ks("p1/a", "p10/a", "p2/a")},
		{"limit within a partition", state.Query{PartitionKey: "p1", RowKeyPrefix: "b", Limit: 2}, ks("p1/b", "p1/b1")},
		{"limit across partitions", state.Query{Limit: 7}, ks("p1/a", "p1/b", "p1/b1", "p1/b2", "p1/b3", "p1/c", "p10/a")},
		{"limit above the count", state.Query{PartitionKey: "p2", Limit: 10}, ks("p2/a", "p2/b1")},
		{"missing partition", state.Query{PartitionKey: "nope"}, nil},
		{"after a row key, exclusive", state.Query{PartitionKey: "p1", RowKeyAfter: "b1"}, ks("p1/b2", "p1/b3", "p1/c")},
		{"after a row key that is not stored", state.Query{PartitionKey: "p1", RowKeyAfter: "b15"}, ks("p1/b2", "p1/b3", "p1/c")},
		{"after, with a prefix and a limit: the next page", state.Query{PartitionKey: "p1", RowKeyPrefix: "b", RowKeyAfter: "b", Limit: 2}, ks("p1/b1", "p1/b2")},
		{"after the last row", state.Query{PartitionKey: "p1", RowKeyAfter: "c"}, nil},
		{"after, with a quote", state.Query{PartitionKey: "q", RowKeyAfter: "o'k1"}, ks("q/o'k2", "q/ok")},
		{"after a non-ASCII key", state.Query{PartitionKey: "u", RowKeyAfter: "é1"}, ks("u/é2", "u/ê")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			es, err := tb.List(t.Context(), tc.q)
			if err != nil {
				t.Fatalf("List(%+v): %v", tc.q, err)
			}
			var got []string
			for _, e := range es {
				got = append(got, e.PartitionKey+"/"+e.RowKey)
				if e.Props["K"] != e.PartitionKey+"/"+e.RowKey || e.ETag == "" {
					t.Errorf("List(%+v) row %s: props %v, etag %q", tc.q, e.PartitionKey+"/"+e.RowKey, e.Props, e.ETag)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("List(%+v) =\n %q\nwant\n %q", tc.q, got, tc.want)
			}
		})
	}
	if _, err := tb.List(ctx, state.Query{Limit: -1}); err == nil {
		t.Errorf("List with a negative limit = nil error, want an error")
	}
	if _, err := tb.List(ctx, state.Query{RowKeyAfter: "a"}); err == nil {
		t.Errorf("List with RowKeyAfter and no PartitionKey = nil error, want an error")
	}
}

// testListPages lists more rows than Table Storage returns in one page
// (1,000), so the backend must follow continuations.
func testListPages(t *testing.T, b state.Backend) {
	ctx := t.Context()
	tb := openTable(t, b, "listpages")
	const n = 1150
	var ops []state.Op
	for i := range n {
		ops = append(ops, state.Op{Kind: state.OpInsert, Entity: ent("big", fmt.Sprintf("r%05d", i), "I", strconv.Itoa(i))})
	}
	ops = append(ops, state.Op{Kind: state.OpInsert, Entity: ent("small", "r00000")})
	for _, chunk := range state.Chunk(ops) {
		if err := tb.Transact(ctx, chunk); err != nil {
			t.Fatal(err)
		}
	}
	all, err := tb.List(ctx, state.Query{PartitionKey: "big"})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != n {
		t.Fatalf("List(big) returned %d rows, want %d", len(all), n)
	}
	for i, e := range all {
		if want := fmt.Sprintf("r%05d", i); e.RowKey != want {
			t.Fatalf("List(big)[%d] = %s, want %s", i, e.RowKey, want)
		}
	}
	for _, limit := range []int{999, 1000, 1001, 1100} {
		got, err := tb.List(ctx, state.Query{PartitionKey: "big", Limit: limit})
		if err != nil || len(got) != limit {
			t.Errorf("List(big, limit %d) returned %d rows, %v", limit, len(got), err)
		}
	}
	everything, err := tb.List(ctx, state.Query{})
	if err != nil || len(everything) != n+1 || everything[n].PartitionKey != "small" {
		t.Errorf("List(all) returned %d rows (last %v), %v; want %d ending in partition small", len(everything), everything[len(everything)-1].PartitionKey, err, n+1)
	}
	prefixed, err := tb.List(ctx, state.Query{PartitionKey: "big", RowKeyPrefix: "r010"})
	if err != nil || len(prefixed) != 100 {
		t.Errorf("List(big, prefix r010) returned %d rows, %v; want 100", len(prefixed), err)
	}
}

// txCase is one transaction: seed rows, build ops (ETags may come from the
// seeded rows), and compare the error and the table afterwards.
type txCase struct {
	name    string
	seed    []state.Entity
	ops     func(seeded map[string]state.Entity) []state.Op
	wantErr error
	want    []row
}

func op(kind state.OpKind, e state.Entity) state.Op { return state.Op{Kind: kind, Entity: e} }

func withETag(e state.Entity, etag string) state.Entity {
	e.ETag = etag
	return e
}

func inserts(pk string, n int) []state.Op {
	ops := make([]state.Op, n)
	for i := range ops {
		ops[i] = op(state.OpInsert, ent(pk, fmt.Sprintf("n%03d", i)))
	}
	return ops
}

func testTransact(t *testing.T, b state.Backend) {
	seeded := []state.Entity{ent("p", "gone", "V", "1"), ent("p", "keep", "V", "1"), ent("p", "old", "V", "1")}
	seededRows := rowsOf(seeded)
	cases := []txCase{
		{
			name: "every kind at once",
			seed: seeded,
			ops: func(s map[string]state.Entity) []state.Op {
				return []state.Op{
					op(state.OpInsert, ent("p", "new", "V", "ins")),
					op(state.OpUpsert, ent("p", "up", "V", "ups")),
					op(state.OpUpdate, withETag(ent("p", "old", "V", "upd"), s["old"].ETag)),
					op(state.OpDelete, withETag(ent("p", "gone"), s["gone"].ETag)),
					op(state.OpUpsert, ent("p", "keep", "W", "replaced")),
				}
			},
			want: []row{
				{"p", "keep", map[string]string{"W": "replaced"}},
				{"p", "new", map[string]string{"V": "ins"}},
				{"p", "old", map[string]string{"V": "upd"}},
				{"p", "up", map[string]string{"V": "ups"}},
			},
		},
		{
			name: "insert of an existing row fails the whole transaction",
			seed: seeded,
			ops: func(s map[string]state.Entity) []state.Op {
				return []state.Op{
					op(state.OpInsert, ent("p", "new1")),
					op(state.OpUpsert, ent("p", "new2")),
					op(state.OpDelete, withETag(ent("p", "gone"), state.ETagAny)),
					op(state.OpInsert, ent("p", "keep", "V", "dup")),
				}
			},
			wantErr: state.ErrExists,
			want:    seededRows,
		},
		{
			name: "update with a stale etag fails the whole transaction",
			seed: seeded,
			ops: func(s map[string]state.Entity) []state.Op {
				return []state.Op{
					op(state.OpInsert, ent("p", "new1")),
					op(state.OpUpdate, withETag(ent("p", "old", "V", "2"), s["keep"].ETag)),
				}
			},
			wantErr: state.ErrConflict,
			want:    seededRows,
		},
		{
			name: "update of a missing row fails the whole transaction",
			seed: seeded,
			ops: func(s map[string]state.Entity) []state.Op {
				return []state.Op{
					op(state.OpUpsert, ent("p", "keep", "V", "2")),
					op(state.OpUpdate, withETag(ent("p", "missing"), state.ETagAny)),
				}
			},
			wantErr: state.ErrNotFound,
			want:    seededRows,
		},
		{
			name: "delete of a missing row fails the whole transaction",
			seed: seeded,
			ops: func(s map[string]state.Entity) []state.Op {
				return []state.Op{
					op(state.OpDelete, withETag(ent("p", "gone"), state.ETagAny)),
					op(state.OpDelete, withETag(ent("p", "missing"), state.ETagAny)),
				}
			},
			wantErr: state.ErrNotFound,
			want:    seededRows,
		},
		{
			name: "delete with a stale etag fails the whole transaction",
			seed: seeded,
			ops: func(s map[string]state.Entity) []state.Op {
				return []state.Op{
					op(state.OpInsert, ent("p", "new1")),
					op(state.OpDelete, withETag(ent("p", "gone"), s["keep"].ETag)),
				}
			},
			wantErr: state.ErrConflict,
			want:    seededRows,
		},
		{
			name:    "100 operations",
			ops:     func(map[string]state.Entity) []state.Op { return inserts("p", 100) },
			want:    rowsOf(entities(inserts("p", 100))),
			wantErr: nil,
		},
		{
			name:    "101 operations",
			ops:     func(map[string]state.Entity) []state.Op { return inserts("p", 101) },
			wantErr: state.ErrBadTransaction,
		},
		{
			name:    "no operations",
			ops:     func(map[string]state.Entity) []state.Op { return nil },
			wantErr: state.ErrBadTransaction,
		},
		{
			name: "two partitions",
			ops: func(map[string]state.Entity) []state.Op {
				return []state.Op{op(state.OpInsert, ent("p", "a")), op(state.OpInsert, ent("q", "b"))}
			},
			wantErr: state.ErrBadTransaction,
		},
		{
			name: "one row twice",
			seed: seeded,
			ops: func(map[string]state.Entity) []state.Op {
				return []state.Op{op(state.OpUpsert, ent("p", "x", "V", "1")), op(state.OpUpsert, ent("p", "x", "V", "2"))}
			},
			wantErr: state.ErrBadTransaction,
			want:    seededRows,
		},
		{
			name: "one row twice with different kinds",
			seed: seeded,
			ops: func(s map[string]state.Entity) []state.Op {
				return []state.Op{op(state.OpUpsert, ent("p", "keep", "V", "2")), op(state.OpDelete, withETag(ent("p", "keep"), state.ETagAny))}
			},
			wantErr: state.ErrBadTransaction,
			want:    seededRows,
		},
		{
			name: "forbidden key",
			ops: func(map[string]state.Entity) []state.Op {
				return []state.Op{op(state.OpInsert, ent("p", "ok")), op(state.OpInsert, ent("p", "a/b"))}
			},
			wantErr: state.ErrInvalidKey,
		},
		{
			name: "property too large",
			ops: func(map[string]state.Entity) []state.Op {
				return []state.Op{op(state.OpInsert, ent("p", "ok")), op(state.OpInsert, ent("p", "big", "V", strings.Repeat("x", state.MaxPropertyBytes+1)))}
			},
			wantErr: state.ErrTooLarge,
		},
		{
			name: "update without etag is refused",
			seed: seeded,
			ops: func(map[string]state.Entity) []state.Op {
				return []state.Op{op(state.OpInsert, ent("p", "new1")), op(state.OpUpdate, ent("p", "old", "V", "2"))}
			},
			wantErr: errAny,
			want:    seededRows,
		},
		{
			name: "delete without etag is refused",
			seed: seeded,
			ops: func(map[string]state.Entity) []state.Op {
				return []state.Op{op(state.OpInsert, ent("p", "new1")), op(state.OpDelete, ent("p", "gone"))}
			},
			wantErr: errAny,
			want:    seededRows,
		},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tb := openTable(t, b, fmt.Sprintf("transact%02d", i))
			s := seed(t, tb, tc.seed...)
			err := tb.Transact(t.Context(), tc.ops(s))
			checkErr(t, "Transact", err, tc.wantErr)
			checkRows(t, "table afterwards", dump(t, tb), tc.want)
		})
	}
}

func entities(ops []state.Op) []state.Entity {
	out := make([]state.Entity, len(ops))
	for i, o := range ops {
		out[i] = o.Entity
	}
	return out
}

func testChunk(t *testing.T, b state.Backend) {
	ctx := t.Context()
	tb := openTable(t, b, "chunk")
	// 250 operations over two interleaved partitions: 150 in A, 100 in B.
	var ops []state.Op
	for i := range 250 {
		pk := "A"
		if i%5 >= 3 {
			pk = "B"
		}
		ops = append(ops, op(state.OpUpsert, ent(pk, fmt.Sprintf("r%03d", i), "I", strconv.Itoa(i))))
	}
	chunks := state.Chunk(ops)
	var sizes []string
	for _, c := range chunks {
		sizes = append(sizes, fmt.Sprintf("%s:%d", c[0].Entity.PartitionKey, len(c)))
		if err := state.ValidateTransaction(c); err != nil {
			t.Errorf("chunk %s is not a valid transaction: %v", sizes[len(sizes)-1], err)
		}
	}
	if want := []string{"A:100", "A:50", "B:100"}; !slices.Equal(sizes, want) {
		t.Errorf("Chunk sizes = %v, want %v", sizes, want)
	}
	for _, c := range chunks {
		if err := tb.Transact(ctx, c); err != nil {
			t.Fatalf("Transact(chunk of %d in %s): %v", len(c), c[0].Entity.PartitionKey, err)
		}
	}
	for pk, want := range map[string]int{"A": 150, "B": 100} {
		got, err := tb.List(ctx, state.Query{PartitionKey: pk})
		if err != nil || len(got) != want {
			t.Errorf("List(%s) returned %d rows, %v; want %d", pk, len(got), err, want)
		}
	}
}

// testConcurrency runs read-modify-write loops on one counter from many
// goroutines. With ETags and retry on ErrConflict no increment is lost.
func testConcurrency(t *testing.T, b state.Backend) {
	ctx := t.Context()
	tb := openTable(t, b, "concurrency")
	if _, err := tb.Insert(ctx, ent("c", "counter", "N", "0")); err != nil {
		t.Fatal(err)
	}
	const workers, each = 8, 10
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		conflicts int
		errs      []error
	)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				if err := increment(ctx, tb, &mu, &conflicts); err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("worker %d increment %d: %w", w, i, err))
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		t.Error(err)
	}
	got, err := tb.Get(ctx, "c", "counter")
	if err != nil {
		t.Fatal(err)
	}
	if got.Props["N"] != strconv.Itoa(workers*each) {
		t.Errorf("counter = %s, want %d", got.Props["N"], workers*each)
	}
	t.Logf("%d increments, %d conflicts retried", workers*each, conflicts)
}

func increment(ctx context.Context, tb state.Table, mu *sync.Mutex, conflicts *int) error {
	for range 1000 {
		e, err := tb.Get(ctx, "c", "counter")
		if err != nil {
			return err
		}
		n, err := strconv.Atoi(e.Props["N"])
		if err != nil {
			return err
		}
		e.Props["N"] = strconv.Itoa(n + 1)
		_, err = tb.Update(ctx, e)
		if errors.Is(err, state.ErrConflict) {
			mu.Lock()
			*conflicts++
			mu.Unlock()
			continue
		}
		return err
	}
	return errors.New("gave up after 1000 conflicts")
}
