package graphsim

import "slices"

// objKind says which of a tenant's maps an object is in.
type objKind uint8

const (
	objUser objKind = iota + 1
	objGroup
	objSchool
	objEvent
)

// objRef names one stored object.
type objRef struct {
	kind objKind
	id   string // its key in the kind's map
}

// change is one object's change, at the tenant sequence it took.
type change struct {
	seq uint64
	ref objRef
}

// touch gives m, an object of kind k, the tenant's next sequence number
// and logs the change. Every change to a stored object goes through here:
// delta and the address cache read the sequence, and the log lets a write
// find what it changed (persistWrite) and the address index catch up
// without scanning every object of a trust-sized tenant.
func (t *tenant) touch(k objKind, m *meta) {
	m.seq = t.nextSeq()
	t.changes = append(t.changes, change{seq: m.seq, ref: objRef{kind: k, id: m.id}})
}

// maxKeptChanges bounds the log's room kept from one request to the next.
const maxKeptChanges = 4096

// beginRequest starts a request's log: the address index takes in what
// earlier requests changed, and the log is emptied, so it only ever holds
// one request's changes.
func (t *tenant) beginRequest() {
	t.catchUpAddresses()
	t.addrs.pending = t.addrs.pending[:0] // made and never stored
	t.changes = t.changes[:0]
	if cap(t.changes) > maxKeptChanges {
		t.changes = nil // a loaded state's worth is not kept for every request
	}
	t.addrs.next = 0
}

// changedSince calls visit for each change of the current request later
// than since, newest first.
func (t *tenant) changedSince(since uint64, visit func(objRef)) {
	for i := len(t.changes) - 1; i >= 0 && t.changes[i].seq > since; i-- {
		visit(t.changes[i].ref)
	}
}

// object returns the stored object ref names, with its properties.
func (t *tenant) object(ref objRef) (*meta, map[string]any, bool) {
	switch ref.kind {
	case objUser:
		if u := t.users[ref.id]; u != nil {
			return &u.meta, u.props, true
		}
	case objGroup:
		if g := t.groups[ref.id]; g != nil {
			return &g.meta, g.props, true
		}
	}
	return nil, nil, false
}

// addressIndex finds the users and groups holding an address (a UPN, mail
// or proxy address, lowered) without reading every object: Graph refuses
// a second holder of an address, and checking each create against a
// 100,000-user tenant one object at a time made a trust's apply quadratic.
// Entries may be stale (an object's addresses changed or it was deleted
// since); lookups check each candidate's current addresses, and the index
// catches up from the change log before every lookup.
type addressIndex struct {
	holders map[string][]objRef
	held    map[objRef][]string // the addresses each object is indexed under
	next    int                 // the log's changes from here are not indexed yet
	pending []objRef            // logged before being stored; tried again
}

// catchUpAddresses indexes the users and groups changed since the index
// last caught up.
func (t *tenant) catchUpAddresses() {
	if t.addrs.next == len(t.changes) && len(t.addrs.pending) == 0 {
		return
	}
	todo := slices.Clone(t.addrs.pending)
	t.addrs.pending = t.addrs.pending[:0]
	for _, c := range t.changes[t.addrs.next:] {
		if c.ref.kind == objUser || c.ref.kind == objGroup {
			todo = append(todo, c.ref)
		}
	}
	t.addrs.next = len(t.changes)
	for _, ref := range todo {
		m, props, ok := t.object(ref)
		if !ok {
			t.addrs.pending = append(t.addrs.pending, ref)
			continue
		}
		a := m.addresses(props)
		t.addrs.reindex(ref, append([]string{a.upn}, a.mails...))
	}
}

// reindex files ref under addrs instead of the addresses it had.
func (x *addressIndex) reindex(ref objRef, addrs []string) {
	if x.holders == nil {
		x.holders, x.held = map[string][]objRef{}, map[objRef][]string{}
	}
	for _, a := range x.held[ref] {
		rest := slices.DeleteFunc(x.holders[a], func(r objRef) bool { return r == ref })
		if len(rest) == 0 {
			delete(x.holders, a)
		} else {
			x.holders[a] = rest
		}
	}
	var kept []string
	for _, a := range addrs {
		if a == "" || slices.Contains(kept, a) {
			continue
		}
		kept = append(kept, a)
		x.holders[a] = append(x.holders[a], ref)
	}
	if len(kept) == 0 {
		delete(x.held, ref)
		return
	}
	x.held[ref] = kept
}
