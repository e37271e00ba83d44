package state

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/rostersync/rostersync/internal/plan"
)

// Journal status of one change.
const (
	EntryPending = "pending"
	EntryDone    = "done"
	EntryFailed  = "failed"
)

// Entry is one change of a stored plan with its apply progress.
type Entry struct {
	plan.Change
	Status string `json:"status"`
	// OpsDone lists the ids of the change's operations that took effect,
	// so a resumed apply never repeats a write.
	OpsDone []string `json:"opsDone,omitempty"`
	// Created is the id of an account this change created (or found, when
	// a retried create met its own earlier success).
	Created  string `json:"created,omitempty"`
	Existing bool   `json:"existing,omitempty"`
	// Handles are answers later ops of the change follow, by op id (an
	// asynchronous operation's Location; apply.Op.Await).
	Handles map[string]string `json:"handles,omitempty"`
	// Linked is set once the link this change makes (a created or matched
	// object, a suspension) is stored: apply writes links before it
	// journals the entry, and relinks any done entry without it.
	Linked bool `json:"linked,omitempty"`
	// Attempts counts the answers of "not now" (throttling, transient
	// errors, replication) its operations met, across steps; at the
	// applier's cap the change fails with the last reason.
	Attempts int    `json:"attempts,omitempty"`
	Error    string `json:"error,omitempty"`
	// ETag is the row's concurrency token.
	ETag string `json:"-"`
}

// A stored plan is two things: its body (the whole plan, gzipped JSON) as
// a content-addressed blob, written first, and a header row naming the
// body's digest and counts, written last. A plan without its header does
// not exist — the step that was saving it plans again — so a crash while
// saving never leaves half a plan that reads as a whole one. The journal
// sits beside the header: one row per SaveEntries call (an apply round),
// holding the progress of the changes that moved in it, so journal writes
// grow with rounds, not with changes. Journals written before this layout
// are rows of one change each ("c|"), still read.
const (
	planHeaderRow = "_header"
	changeRowPfx  = "c|"
	journalRowPfx = "j|"
	planBlobPfx   = "plan/"
)

// planHeader is the header row: enough to find and check the body.
type planHeader struct {
	FormatVersion string `json:"formatVersion"`
	Digest        string `json:"digest"`
	Changes       int    `json:"changes"`
	Unsynced      int    `json:"unsynced"`
}

func planPK(customerID, runID, entity string) string { return EncodeKey(customerID, runID, entity) }

func changeRK(c plan.Change) string {
	return changeRowPfx + EncodeKey(string(c.Kind), c.Key, string(c.Action))
}

// ErrIncompletePlan: a plan's header names a body that is missing or does
// not match it.
var ErrIncompletePlan = errors.New("stored plan is incomplete")

// SavePlan stores an entity's plan of a run: body first, header last. A
// second save of the same run and entity keeps the first (an earlier
// delivery finished saving it; it may already hold apply progress).
func (s *Store) SavePlan(ctx context.Context, p *plan.Plan) error {
	if p.CustomerID == "" || p.RunID == "" || p.Entity == "" {
		return fmt.Errorf("save plan: customer %q, run %q and entity %q are all needed", p.CustomerID, p.RunID, p.Entity)
	}
	body, digest, err := encodePlanBody(p)
	if err != nil {
		return err
	}
	if err := s.blobs.PutBlob(ctx, planBlobPfx+digest, body); err != nil {
		return fmt.Errorf("save plan body of run %s %s: %w", p.RunID, p.Entity, err)
	}
	t, err := s.table(ctx, TablePlans)
	if err != nil {
		return err
	}
	h := planHeader{FormatVersion: plan.FormatVersion, Digest: digest, Changes: len(p.Changes), Unsynced: len(p.Unsynced)}
	e, err := encodeData(planPK(p.CustomerID, p.RunID, p.Entity), planHeaderRow, h, nil)
	if err != nil {
		return err
	}
	if _, err := t.Insert(ctx, e); err != nil && !errors.Is(err, ErrExists) {
		return fmt.Errorf("save plan header of run %s %s: %w", p.RunID, p.Entity, err)
	}
	return nil
}

// encodePlanBody is the plan as gzipped JSON and the SHA-256 of that JSON.
// The digest is of the plain JSON, so it names the plan whatever the
// compressor does. The JSON is streamed: never whole in memory, and its
// changes are encoded while earlier ones are hashed and compressed.
func encodePlanBody(p *plan.Plan) ([]byte, string, error) {
	var buf bytes.Buffer
	// The fastest level: a 100,000-person plan compresses in a fraction of
	// the default's time, and the digest names the plain JSON anyway.
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err != nil {
		return nil, "", err
	}
	sum := sha256.New()
	if err := writePlanJSON(io.MultiWriter(sum, zw), p); err != nil {
		return nil, "", fmt.Errorf("encode plan of run %s: %w", p.RunID, err)
	}
	if err := zw.Close(); err != nil {
		return nil, "", err
	}
	return buf.Bytes(), hex.EncodeToString(sum.Sum(nil)), nil
}

// planChunk is how many changes are encoded into one piece of a streamed
// plan body.
const planChunk = 512

// planBuffers is how many chunk buffers a streamed plan body uses: one
// being encoded, one being written, and a couple queued between.
const planBuffers = 4

// writePlanJSON writes exactly the bytes json.Marshal(p) would (the
// digest of stored plans depends on it), without holding them all: the
// plan around its changes is marshalled with no changes and split where
// they go, and the changes are encoded in chunks by a second goroutine
// while w takes the chunks before them.
func writePlanJSON(w io.Writer, p *plan.Plan) error {
	head := *p
	head.Changes = nil
	outer, err := json.Marshal(&head)
	if err != nil {
		return err
	}
	// The key cannot occur earlier: the fields before it are fixed-shape,
	// and a quote inside a string value is escaped.
	const hole = `"changes":null`
	at := bytes.Index(outer, []byte(hole))
	if len(p.Changes) == 0 || at < 0 {
		// No changes to stream (or a plan shape this does not know): the
		// plain encoding.
		raw, err := json.Marshal(p)
		if err != nil {
			return err
		}
		_, err = w.Write(raw)
		return err
	}
	at += len(hole) - len("null")
	if _, err := w.Write(outer[:at]); err != nil {
		return err
	}

	// Chunks travel to w and their buffers come back to be refilled, so a
	// plan of any size is encoded in planBuffers buffers rather than a
	// fresh copy of every chunk (50 MB for 100,000 people).
	chunks := make(chan *bytes.Buffer, planBuffers-1)
	free := make(chan *bytes.Buffer, planBuffers)
	for range planBuffers {
		free <- new(bytes.Buffer)
	}
	done := make(chan struct{})
	var encErr error
	go func() {
		defer close(chunks)
		var b *bytes.Buffer
		var enc *json.Encoder
		for i := range p.Changes {
			if i%planChunk == 0 {
				if b != nil {
					select {
					case chunks <- b:
					case <-done:
						return
					}
				}
				select {
				case b = <-free:
				case <-done:
					return
				}
				b.Reset()
				enc = json.NewEncoder(b)
			}
			if i == 0 {
				b.WriteByte('[')
			} else {
				b.WriteByte(',')
			}
			if err := enc.Encode(&p.Changes[i]); err != nil {
				encErr = err
				return
			}
			b.Truncate(b.Len() - 1) // Encode's newline
		}
		b.WriteByte(']')
		select {
		case chunks <- b:
		case <-done:
		}
	}()
	var werr error
	for b := range chunks {
		if werr == nil {
			if _, werr = w.Write(b.Bytes()); werr != nil {
				close(done)
			}
		}
		free <- b
	}
	if encErr != nil {
		return encErr
	}
	if werr != nil {
		return werr
	}
	_, err = w.Write(outer[at+len("null"):])
	return err
}

func decodePlanBody(body []byte, h planHeader) (*plan.Plan, error) {
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		return nil, err
	}
	if sum := sha256.Sum256(raw); hex.EncodeToString(sum[:]) != h.Digest {
		return nil, fmt.Errorf("%w: body digest does not match its header", ErrIncompletePlan)
	}
	p, err := plan.Decode(raw)
	if err != nil {
		return nil, err
	}
	if len(p.Changes) != h.Changes || len(p.Unsynced) != h.Unsynced {
		return nil, fmt.Errorf("%w: body has %d changes and %d unsynced, header says %d and %d", ErrIncompletePlan, len(p.Changes), len(p.Unsynced), h.Changes, h.Unsynced)
	}
	return p, nil
}

// LoadPlan returns an entity's stored plan of a run with one journal entry
// per change, in plan order: the journalled progress where there is some,
// pending otherwise. ErrNotFound when no complete plan was saved.
func (s *Store) LoadPlan(ctx context.Context, customerID, runID, entity string) (*plan.Plan, []Entry, error) {
	t, err := s.table(ctx, TablePlans)
	if err != nil {
		return nil, nil, err
	}
	rows, err := t.List(ctx, Query{PartitionKey: planPK(customerID, runID, entity)})
	if err != nil {
		return nil, nil, fmt.Errorf("load plan of run %s %s: %w", runID, entity, err)
	}
	var (
		h         *planHeader
		journaled = map[string]Entry{}
		// records are the journal's round records, newest first (their
		// row keys count down).
		records []Entity
	)
	for _, r := range rows {
		switch {
		case r.RowKey == planHeaderRow:
			h = &planHeader{}
			if err := decodeData(r, h); err != nil {
				return nil, nil, err
			}
		case strings.HasPrefix(r.RowKey, changeRowPfx):
			var e Entry
			if err := decodeData(r, &e); err != nil {
				return nil, nil, err
			}
			e.ETag = r.ETag
			journaled[r.RowKey] = e
		case strings.HasPrefix(r.RowKey, journalRowPfx):
			records = append(records, r)
		}
	}
	if h == nil {
		return nil, nil, fmt.Errorf("load plan of run %s %s: %w", runID, entity, ErrNotFound)
	}
	body, err := s.blobs.GetBlob(ctx, planBlobPfx+h.Digest)
	if err != nil {
		return nil, nil, fmt.Errorf("load plan body of run %s %s: %w: %w", runID, entity, ErrIncompletePlan, err)
	}
	p, err := decodePlanBody(body, *h)
	if err != nil {
		return nil, nil, fmt.Errorf("load plan of run %s %s: %w", runID, entity, err)
	}
	p.Sort()
	// Round records apply oldest first, each over what came before; a
	// record names its changes by key and holds only their progress.
	progress := map[string]journalEntry{}
	for i := len(records) - 1; i >= 0; i-- {
		js, err := decodeJournalRecord(records[i])
		if err != nil {
			return nil, nil, fmt.Errorf("load journal of run %s %s: %w", runID, entity, err)
		}
		for _, j := range js {
			rk := changeRK(plan.Change{Kind: j.Kind, Key: j.Key, Action: j.Action})
			progress[rk] = j
			journaled[rk] = Entry{} // matched against the plan below
		}
	}
	entries := make([]Entry, 0, len(p.Changes))
	for _, c := range p.Changes {
		rk := changeRK(c)
		e, ok := journaled[rk]
		switch j, recorded := progress[rk]; {
		case recorded:
			e = j.entry(c)
		case !ok:
			e = Entry{Change: c, Status: EntryPending}
		}
		delete(journaled, rk)
		entries = append(entries, e)
	}
	for rk := range journaled {
		// Apply checks entries against the plan too; here a stray row
		// means the journal belongs to another plan.
		return nil, nil, fmt.Errorf("%w: journal row %s of run %s %s matches no change of the plan", ErrIncompletePlan, rk, runID, entity)
	}
	return p, entries, nil
}

// SaveEntries records apply progress: the entries' progress (each change
// named by its key) as one round record, a single row written once, so a
// round of any size is one write and is journalled whole or not at all.
// A record too large for one row (a relink of a whole trust) is cut into
// several, each whole and written in order.
func (s *Store) SaveEntries(ctx context.Context, customerID, runID, entity string, entries []Entry) error {
	if len(entries) == 0 {
		return nil
	}
	t, err := s.table(ctx, TablePlans)
	if err != nil {
		return err
	}
	pk := planPK(customerID, runID, entity)
	// The last write of a change in the call is the one meant.
	last := make(map[string]int, len(entries))
	for i, en := range entries {
		last[changeRK(en.Change)] = i
	}
	js := make([]journalEntry, 0, len(last))
	for i, en := range entries {
		if last[changeRK(en.Change)] == i {
			js = append(js, journalEntryOf(en))
		}
	}
	records, err := encodeJournalRecords(js)
	if err != nil {
		return fmt.Errorf("save apply progress of run %s %s: %w", runID, entity, err)
	}
	for _, props := range records {
		if err := s.appendJournalRecord(ctx, t, pk, props); err != nil {
			return fmt.Errorf("save apply progress of run %s %s: %w", runID, entity, err)
		}
	}
	return nil
}

// journalEntry is one change's progress in a round record: the change's
// key, and Entry's fields less the change itself, which the plan holds.
type journalEntry struct {
	Kind     plan.Kind         `json:"kind"`
	Key      string            `json:"key"`
	Action   plan.Action       `json:"action"`
	Status   string            `json:"status"`
	OpsDone  []string          `json:"opsDone,omitempty"`
	Created  string            `json:"created,omitempty"`
	Existing bool              `json:"existing,omitempty"`
	Handles  map[string]string `json:"handles,omitempty"`
	Linked   bool              `json:"linked,omitempty"`
	Attempts int               `json:"attempts,omitempty"`
	Error    string            `json:"error,omitempty"`
}

func journalEntryOf(e Entry) journalEntry {
	return journalEntry{Kind: e.Kind, Key: e.Key, Action: e.Action, Status: e.Status, OpsDone: e.OpsDone, Created: e.Created,
		Existing: e.Existing, Handles: e.Handles, Linked: e.Linked, Attempts: e.Attempts, Error: e.Error}
}

// entry is the progress over the plan's change c.
func (j journalEntry) entry(c plan.Change) Entry {
	return Entry{Change: c, Status: j.Status, OpsDone: j.OpsDone, Created: j.Created, Existing: j.Existing,
		Handles: j.Handles, Linked: j.Linked, Attempts: j.Attempts, Error: j.Error}
}

// A round record is gzipped JSON of its journal entries, base64 in
// properties of at most blobPropChars characters: a table property holds
// 32K characters, and journalPropsPerRow of them keep the row well inside
// an entity's 1 MB.
const (
	journalPropsPerRow = 12
	propJournalPart    = "J"
	// journalSeqMax counts round records down from here, so the newest
	// sorts first and one row read finds it.
	journalSeqMax = 1e10 - 1
)

// encodeJournalRecords encodes js as one record's properties, or as
// several records (halving) when one would not fit a row.
func encodeJournalRecords(js []journalEntry) ([]map[string]string, error) {
	raw, err := json.Marshal(js)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(raw); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	enc := base64.StdEncoding.EncodeToString(buf.Bytes())
	if len(enc) > blobPropChars*journalPropsPerRow && len(js) > 1 {
		a, err := encodeJournalRecords(js[:len(js)/2])
		if err != nil {
			return nil, err
		}
		b, err := encodeJournalRecords(js[len(js)/2:])
		if err != nil {
			return nil, err
		}
		return append(a, b...), nil
	}
	props := map[string]string{}
	for i, p := 0, 0; p < len(enc); i, p = i+1, p+blobPropChars {
		props[fmt.Sprintf("%s%02d", propJournalPart, i)] = enc[p:min(p+blobPropChars, len(enc))]
	}
	return []map[string]string{props}, nil
}

func decodeJournalRecord(e Entity) ([]journalEntry, error) {
	var enc strings.Builder
	for i := 0; ; i++ {
		part, ok := e.Props[fmt.Sprintf("%s%02d", propJournalPart, i)]
		if !ok {
			break
		}
		enc.WriteString(part)
	}
	gz, err := base64.StdEncoding.DecodeString(enc.String())
	if err != nil {
		return nil, fmt.Errorf("record %s: %w", e.RowKey, err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, fmt.Errorf("record %s: %w", e.RowKey, err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("record %s: %w", e.RowKey, err)
	}
	var js []journalEntry
	if err := json.Unmarshal(raw, &js); err != nil {
		return nil, fmt.Errorf("record %s: %w", e.RowKey, err)
	}
	return js, nil
}

// appendJournalRecord inserts a round record after the newest one: its
// row key counts down from the newest's, read first. An insert that meets
// a record written meanwhile reads again and takes the next key, so
// records never overwrite or overtake one another.
func (s *Store) appendJournalRecord(ctx context.Context, t Table, pk string, props map[string]string) error {
	for {
		newest, err := t.List(ctx, Query{PartitionKey: pk, RowKeyPrefix: journalRowPfx, Limit: 1})
		if err != nil {
			return err
		}
		seq := int64(journalSeqMax)
		if len(newest) > 0 {
			n, err := strconv.ParseInt(strings.TrimPrefix(newest[0].RowKey, journalRowPfx), 10, 64)
			if err != nil || n <= 0 {
				return fmt.Errorf("journal record %q: not a record key", newest[0].RowKey)
			}
			seq = n - 1
		}
		_, err = t.Insert(ctx, Entity{PartitionKey: pk, RowKey: fmt.Sprintf("%s%010d", journalRowPfx, seq), Props: props})
		if !errors.Is(err, ErrExists) {
			return err
		}
	}
}
