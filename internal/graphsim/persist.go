package graphsim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
)

// A persisted simulator keeps its tenants the way Microsoft 365 does: a
// write Graph accepted survives whatever happens to the process after the
// answer. The state lives in two files:
//
//   - the snapshot, FILE: the seed/export format (State), rewritten only
//     when persistence starts ([Server.Persist]) and on [Server.Close] or
//     [Server.Compact], never per write;
//   - the write log, FILE + [WriteLogSuffix]: JSON lines, one per accepted
//     write, each holding the seed form of every object the write changed
//     (or the ids it deleted), appended before the answer is sent.
//
// [ReadDurableState] loads the snapshot and replays the log on it. A kill
// can only tear the log's last line; replay ignores it with a warning.

// WriteLogSuffix names the write log next to its snapshot.
const WriteLogSuffix = ".log"

// PersistOptions tune [Server.Persist].
type PersistOptions struct {
	// Fsync syncs the log to disk before each answer, so a write survives
	// the machine losing power too, not only the process being killed.
	Fsync bool
}

// logRecord is one line of the write log.
type logRecord struct {
	Tenant string `json:"tenant"`
	// Replace is a whole tenant: one loaded (seeded) at run time.
	Replace *TenantState `json:"replace,omitempty"`
	Put     *objectSet   `json:"put,omitempty"`
	Delete  *idSet       `json:"delete,omitempty"`
}

// objectSet holds objects in the seed format (see TenantState).
type objectSet struct {
	Users   []map[string]any `json:"users,omitempty"`
	Groups  []map[string]any `json:"groups,omitempty"`
	Schools []map[string]any `json:"schools,omitempty"`
	Events  []map[string]any `json:"events,omitempty"`
}

type idSet struct {
	Users   []string `json:"users,omitempty"`
	Groups  []string `json:"groups,omitempty"`
	Schools []string `json:"schools,omitempty"`
	Events  []string `json:"events,omitempty"`
}

// journal appends records to the write log.
type journal struct {
	path  string
	fsync bool
	mu    sync.Mutex
	f     *os.File
	// err is the first failed append: after it the log has a gap, so every
	// later write fails too rather than be kept in memory only.
	err error
}

func (j *journal) append(rec logRecord) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode write log record: %w", err)
	}
	b = append(b, '\n')
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.err != nil {
		return j.err
	}
	if j.f == nil {
		return errors.New("write log is closed")
	}
	// One write of the whole line: a kill can tear only the last line.
	if _, err := j.f.Write(b); err != nil {
		j.err = fmt.Errorf("append to %s: %w", j.path, err)
		return j.err
	}
	if j.fsync {
		if err := j.f.Sync(); err != nil {
			j.err = fmt.Errorf("sync %s: %w", j.path, err)
			return j.err
		}
	}
	return nil
}

// ReadDurableState reads the snapshot at path and replays its write log
// on it. found is false when neither file exists. A torn last log line (a
// kill in the middle of an append) is skipped and reported to warn; any
// other undecodable line is an error.
func ReadDurableState(path string, warn func(string)) (st State, found bool, err error) {
	rp := newReplay()
	base, err := ReadStateFile(path)
	switch {
	case err == nil:
		found = true
		for _, ts := range base.Tenants {
			rp.replace(ts)
		}
	case errors.Is(err, os.ErrNotExist):
	default:
		return State{}, false, err
	}
	logPath := path + WriteLogSuffix
	b, err := os.ReadFile(logPath)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return rp.state(), found, nil
	case err != nil:
		return State{}, false, fmt.Errorf("read write log: %w", err)
	}
	found = true
	lines := bytes.SplitAfter(b, []byte("\n"))
	for i, line := range lines {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		last := i == len(lines)-1 || (i == len(lines)-2 && len(lines[i+1]) == 0)
		var rec logRecord
		derr := decodeRecord(line, &rec)
		if derr == nil && !bytes.HasSuffix(line, []byte("\n")) {
			derr = errors.New("no line end")
		}
		if derr != nil {
			if last {
				if warn != nil {
					warn(fmt.Sprintf("%s: ignoring a torn last line %d (%d bytes): %v", logPath, i+1, len(line), derr))
				}
				break
			}
			return State{}, false, fmt.Errorf("%w: %s line %d: %w", ErrBadState, logPath, i+1, derr)
		}
		if err := rp.apply(rec); err != nil {
			return State{}, false, fmt.Errorf("%w: %s line %d: %w", ErrBadState, logPath, i+1, err)
		}
	}
	return rp.state(), found, nil
}

func decodeRecord(line []byte, rec *logRecord) error {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	if err := dec.Decode(rec); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after the record")
	}
	if rec.Tenant == "" {
		return errors.New("record names no tenant")
	}
	return nil
}

// replay rebuilds State from a snapshot and log records.
type replay struct {
	tenants map[string]*replayTenant
}

type replayTenant struct {
	head                           TenantState // without its objects
	users, groups, schools, events map[string]map[string]any
}

func newReplay() *replay { return &replay{tenants: map[string]*replayTenant{}} }

// objectKey is how the simulator keys an object: directory ids compare
// case-insensitively, event ids exactly.
func objectKey(p map[string]any, lower bool) string {
	id := str(p["id"])
	if lower {
		id = strings.ToLower(id)
	}
	return id
}

func (rp *replay) replace(ts TenantState) {
	rt := &replayTenant{users: map[string]map[string]any{}, groups: map[string]map[string]any{},
		schools: map[string]map[string]any{}, events: map[string]map[string]any{}}
	put := func(m map[string]map[string]any, list []map[string]any, lower bool) {
		for i, p := range list {
			k := objectKey(p, lower)
			if k == "" {
				// A hand-written seed may leave ids out; Load settles them.
				k = fmt.Sprintf("\x00%d", i)
			}
			m[k] = p
		}
	}
	put(rt.users, ts.Users, true)
	put(rt.groups, ts.Groups, true)
	put(rt.schools, ts.Schools, true)
	put(rt.events, ts.Events, false)
	ts.Users, ts.Groups, ts.Schools, ts.Events = nil, nil, nil, nil
	rt.head = ts
	rp.tenants[strings.ToLower(ts.ID)] = rt
}

func (rp *replay) apply(rec logRecord) error {
	if rec.Replace != nil {
		rp.replace(*rec.Replace)
		return nil
	}
	rt := rp.tenants[strings.ToLower(rec.Tenant)]
	if rt == nil {
		return fmt.Errorf("record for unknown tenant %q", rec.Tenant)
	}
	if p := rec.Put; p != nil {
		for _, kind := range []struct {
			m     map[string]map[string]any
			list  []map[string]any
			lower bool
		}{{rt.users, p.Users, true}, {rt.groups, p.Groups, true}, {rt.schools, p.Schools, true}, {rt.events, p.Events, false}} {
			for _, o := range kind.list {
				k := objectKey(o, kind.lower)
				if k == "" {
					return errors.New("put of an object without an id")
				}
				kind.m[k] = o
			}
		}
	}
	if d := rec.Delete; d != nil {
		for _, id := range d.Users {
			delete(rt.users, strings.ToLower(id))
		}
		for _, id := range d.Groups {
			delete(rt.groups, strings.ToLower(id))
		}
		for _, id := range d.Schools {
			delete(rt.schools, strings.ToLower(id))
		}
		for _, id := range d.Events {
			delete(rt.events, id)
		}
	}
	return nil
}

// state lists tenants and objects in id order, as Export does.
func (rp *replay) state() State {
	st := State{FormatVersion: StateFormatVersion}
	for _, tid := range sortedIDs(rp.tenants) {
		rt := rp.tenants[tid]
		ts := rt.head
		ts.Users = sortedValues(rt.users)
		ts.Groups = sortedValues(rt.groups)
		ts.Schools = sortedValues(rt.schools)
		// An event whose mailbox owner is gone cannot be seeded.
		for _, e := range sortedValues(rt.events) {
			if _, ok := rt.users[strings.ToLower(str(e["userId"]))]; ok {
				ts.Events = append(ts.Events, e)
			}
		}
		st.Tenants = append(st.Tenants, ts)
	}
	return st
}

func sortedValues(m map[string]map[string]any) []map[string]any {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []map[string]any
	for _, k := range keys {
		out = append(out, m[k])
	}
	return out
}

// Persist makes s durable in path from now on: it writes every tenant s
// holds as the snapshot at path (atomically), empties the write log, and
// then appends each accepted write to the log before answering it. Load
// first what [ReadDurableState] returns for path, or the log's history is
// lost. Stop with [Server.Close].
func (s *Server) Persist(path string, o PersistOptions) error {
	s.gate.Lock()
	defer s.gate.Unlock()
	if s.journal.Load() != nil {
		return errors.New("graphsim: already persisting")
	}
	if err := writeStateFile(path, s.Export()); err != nil {
		return err
	}
	logPath := path + WriteLogSuffix
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("open write log: %w", err)
	}
	s.journal.Store(&journal{path: logPath, fsync: o.Fsync, f: f})
	return nil
}

// Compact folds the write log into the snapshot: the snapshot is rewritten
// atomically, then the log emptied. Writes wait while it runs. Without
// persistence it does nothing.
func (s *Server) Compact() error {
	s.gate.Lock()
	defer s.gate.Unlock()
	return s.compactLocked()
}

func (s *Server) compactLocked() error {
	j := s.journal.Load()
	if j == nil {
		return nil
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return errors.New("graphsim: write log is closed")
	}
	snap := strings.TrimSuffix(j.path, WriteLogSuffix)
	if err := writeStateFile(snap, s.Export()); err != nil {
		return err
	}
	// A crash before the truncation only replays records the snapshot
	// already holds: each record sets objects to their state at the time,
	// so replaying it again changes nothing.
	if err := j.f.Truncate(0); err != nil {
		return fmt.Errorf("empty write log: %w", err)
	}
	j.err = nil
	return nil
}

// Close compacts and stops persisting; later writes are answered 500.
// Without persistence it does nothing.
func (s *Server) Close() error {
	s.gate.Lock()
	defer s.gate.Unlock()
	j := s.journal.Load()
	if j == nil {
		return nil
	}
	err := s.compactLocked()
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f != nil {
		err = errors.Join(err, j.f.Close())
		j.f = nil
	}
	return err
}

// persistWrite records what a write request changed in t: every object
// whose change sequence moved past since, the groups whose membership
// changed, and (for a successful write) the objects the path names, for
// writes such as team settings that no sequence tracks. Called with t.mu
// held, so the record is on disk before the answer.
func (s *Server) persistWrite(j *journal, t *tenant, r *request, since uint64, succeeded bool) error {
	users, groups, schools, events := map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}
	deletion := false
	if t.seq != since {
		t.changedSince(since, func(ref objRef) {
			switch ref.kind {
			case objUser:
				if u := t.users[ref.id]; u != nil {
					users[ref.id] = true
					deletion = deletion || u.deleted
				}
			case objGroup:
				if g := t.groups[ref.id]; g != nil {
					groups[ref.id] = true
					deletion = deletion || g.deleted
				}
			case objSchool:
				if t.schools[ref.id] != nil {
					schools[ref.id] = true
				}
			case objEvent:
				if t.events[ref.id] != nil {
					events[ref.id] = true
				}
			}
		})
		for i := len(t.memberLog) - 1; i >= 0 && t.memberLog[i].seq > since; i-- {
			groups[t.memberLog[i].groupID] = true
		}
	}
	if succeeded {
		for _, seg := range r.segs {
			if u := t.findUser(seg); u != nil {
				users[u.id] = true
			}
			if g := t.findGroup(seg); g != nil {
				groups[g.id] = true
			}
			if sc := t.schools[strings.ToLower(seg)]; sc != nil {
				schools[sc.id] = true
			}
			if e := t.events[seg]; e != nil {
				events[e.id] = true
			}
		}
	}
	if deletion {
		// Deleting a user or class takes it out of every school without
		// moving the school's sequence.
		for id := range t.schools {
			schools[id] = true
		}
	}
	if len(users)+len(groups)+len(schools)+len(events) == 0 {
		return nil
	}
	var put objectSet
	var del idSet
	for _, id := range sortedIDs((users)) {
		if u := t.users[id]; u.deleted {
			del.Users = append(del.Users, id)
		} else {
			put.Users = append(put.Users, exportUser(u))
		}
	}
	for _, id := range sortedIDs((groups)) {
		if g := t.groups[id]; g == nil || g.deleted {
			del.Groups = append(del.Groups, id)
		} else {
			put.Groups = append(put.Groups, s.exportGroup(g))
		}
	}
	for _, id := range sortedIDs((schools)) {
		if sc := t.schools[id]; sc.deleted {
			del.Schools = append(del.Schools, id)
		} else {
			put.Schools = append(put.Schools, exportSchool(sc))
		}
	}
	for _, id := range sortedIDs((events)) {
		if e := t.events[id]; !t.liveEvent(e) {
			del.Events = append(del.Events, id)
		} else {
			put.Events = append(put.Events, exportEvent(e))
		}
	}
	rec := logRecord{Tenant: t.id}
	if len(put.Users)+len(put.Groups)+len(put.Schools)+len(put.Events) > 0 {
		rec.Put = &put
	}
	if len(del.Users)+len(del.Groups)+len(del.Schools)+len(del.Events) > 0 {
		rec.Delete = &del
	}
	return j.append(rec)
}

// persistFailed is the answer to a write the simulator applied but could
// not make durable.
func persistFailed(err error) *apiError {
	return errf(http.StatusInternalServerError, CodeInternalServerError, "graphsim could not persist the write: %v", err)
}
