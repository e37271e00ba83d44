// Package apply executes a stored plan: it expands changes into Graph
// operations, hands them to an Executor in rounds, journals every outcome
// so a crash or a timeout resumes where it stopped, and turns long waits
// into a delay the caller schedules instead of blocking.
package apply

import (
	"context"
	"time"
)

// OpKind is one Graph write.
type OpKind string

const (
	// OpCreateUser is POST /users. Props hold the user's properties
	// (userPrincipalName, mailNickname, displayName, usageLocation, …).
	OpCreateUser OpKind = "createUser"
	// OpPatchUser is PATCH /users/{id} with Props (and AccountEnabled).
	OpPatchUser OpKind = "patchUser"
	// OpRevokeSessions is POST /users/{id}/revokeSignInSessions.
	OpRevokeSessions OpKind = "revokeSignInSessions"
	// OpAssignLicense is POST /users/{id}/assignLicense adding SKU.
	OpAssignLicense OpKind = "assignLicense"
	// OpAddMember is POST /groups/{GroupID}/members/$ref of the user.
	OpAddMember OpKind = "addGroupMember"
)

// Op is one operation. ID is unique within a run (change key + index) and
// is what results are matched back by, never position.
type Op struct {
	ID   string `json:"id"`
	Kind OpKind `json:"kind"`
	// Key is the deterministic key of the object a create makes (a user's
	// userPrincipalName, a group's mailNickname): its intent is journalled
	// under it before the create is sent, so the object can be found again
	// whatever happens to the answer. Empty for every other op.
	Key      string            `json:"key,omitempty"`
	TargetID string            `json:"targetId,omitempty"`
	Props    map[string]string `json:"props,omitempty"`
	// AccountEnabled is set by suspend (false) and reactivate (true).
	AccountEnabled *bool  `json:"accountEnabled,omitempty"`
	SKU            string `json:"sku,omitempty"`
	GroupID        string `json:"groupId,omitempty"`
	// Password is the initial password of a create. It exists only in
	// memory between generation and the request: never journalled,
	// logged or stored in a plan.
	Password string `json:"-"`
}

// ResultStatus says what became of an op.
type ResultStatus string

const (
	// Done: the write took effect (or was already in effect).
	Done ResultStatus = "done"
	// Retry: try again after RetryAfter (throttling, a transient error,
	// or an object not yet visible after its creation).
	Retry ResultStatus = "retry"
	// Failed: Graph refused it for good; Error says why.
	Failed ResultStatus = "failed"
)

// Result is an op's outcome.
type Result struct {
	ID     string       `json:"id"`
	Status ResultStatus `json:"status"`
	// TargetID is the object id a create produced (or found).
	TargetID   string        `json:"targetId,omitempty"`
	RetryAfter time.Duration `json:"retryAfter,omitempty"`
	// Code and Error carry Graph's error code and message on failure.
	Code  string `json:"code,omitempty"`
	Error string `json:"error,omitempty"`
	// Existing marks a create that met ObjectConflict and found the
	// account it had created before (a retried create): it is linked,
	// not duplicated.
	Existing bool `json:"existing,omitempty"`
}

// Executor performs ops against the tenant. It returns exactly one result
// per op, in any order, and must be safe for concurrent use. It handles one
// round: it may wait briefly inside (e.g. within $batch pacing), but long
// waits are returned as Retry with RetryAfter.
type Executor interface {
	Execute(ctx context.Context, ops []Op) []Result
}

// ExecutorFunc adapts a function to Executor.
type ExecutorFunc func(ctx context.Context, ops []Op) []Result

func (f ExecutorFunc) Execute(ctx context.Context, ops []Op) []Result { return f(ctx, ops) }

var _ Executor = ExecutorFunc(nil)
