// Package apply executes a stored plan: it expands changes into Graph
// operations, hands them to an Executor in rounds, journals every outcome
// so a crash or a timeout resumes where it stopped, and turns long waits
// into a delay the caller schedules instead of blocking.
package apply

import (
	"context"
	"time"

	"github.com/rostersync/rostersync/internal/plan"
)

// OpKind is one kind of Graph write. Expanders (one per entity kind)
// produce ops; internal/graph registers, per OpKind, how an op becomes a
// request and how its answer is read. The applier knows kinds only by name.
type OpKind string

// The op kinds of today's entities; internal/graph has a request builder
// and answer reader for each.
const (
	// OpCreateUser is POST /users with Props (userPrincipalName,
	// mailNickname, displayName, usageLocation, …) and an initial password.
	OpCreateUser OpKind = "createUser"
	// OpPatchUser is PATCH /users/{TargetID} with Props (accountEnabled
	// "true"/"false" included).
	OpPatchUser OpKind = "patchUser"
	// OpRevokeSessions is POST /users/{TargetID}/revokeSignInSessions.
	OpRevokeSessions OpKind = "revokeSignInSessions"
	// OpAssignLicense is POST /users/{TargetID}/assignLicense adding the
	// SKU in Props["skuId"].
	OpAssignLicense OpKind = "assignLicense"
	// OpAddMember adds TargetID to the group Ref. The executor packs the
	// adds of one group into PATCH members@odata.bind requests of up to 20.
	OpAddMember OpKind = "addGroupMember"
	// OpCreateGroup is POST /groups with Props displayName, mailNickname
	// (also its Key), unified ("true" for a Microsoft 365 group),
	// visibility, options (resourceBehaviorOptions, comma-separated) and
	// owners and members (object ids, comma-separated, at most 20 in all)
	// bound in the same request.
	OpCreateGroup OpKind = "createGroup"
	// OpAddOwner adds TargetID as an owner of the group Ref.
	OpAddOwner OpKind = "addGroupOwner"
	// OpRemoveMember and OpRemoveOwner take TargetID out of the group Ref's
	// members or owners (DELETE …/$ref: the reference, never the object).
	OpRemoveMember OpKind = "removeGroupMember"
	OpRemoveOwner  OpKind = "removeGroupOwner"
	// OpDeleteGroup is DELETE /groups/{TargetID}.
	OpDeleteGroup OpKind = "deleteGroup"
	// OpPatchGroup is PATCH /groups/{TargetID} with Props (displayName).
	OpPatchGroup OpKind = "patchGroup"
	// OpCreateClass is POST /education/classes with Props displayName,
	// mailNickname (also its Key), description and externalId; the class's
	// Microsoft 365 group has the same id.
	OpCreateClass OpKind = "createClass"
	// OpAddClassTeacher and OpAddClassMember add the education user
	// TargetID to the class Ref's teachers or members ($ref, the
	// education/users/{id} form); OpRemoveClassTeacher and
	// OpRemoveClassMember take them out.
	OpAddClassTeacher    OpKind = "addClassTeacher"
	OpAddClassMember     OpKind = "addClassMember"
	OpRemoveClassTeacher OpKind = "removeClassTeacher"
	OpRemoveClassMember  OpKind = "removeClassMember"
	// OpCreateClassTeam is POST /teams from the educationClass template
	// bound to the class group TargetID; OpArchiveTeam and OpUnarchiveTeam
	// are POST /teams/{TargetID}/archive and /unarchive. All three are
	// accepted (202) with the Location of a teamsAsyncOperation, which
	// their result carries as its Handle.
	OpCreateClassTeam OpKind = "createClassTeam"
	OpArchiveTeam     OpKind = "archiveTeam"
	OpUnarchiveTeam   OpKind = "unarchiveTeam"
	// OpPollTeamOperation reads the teamsAsyncOperation at Ref (the Handle
	// of the op it Awaits): Retry with a RetryAfter while it runs, Done
	// when it succeeded, and when it failed Retry with Redo naming the op
	// that started it, so that one is sent again (bounded by the attempt
	// cap).
	OpPollTeamOperation OpKind = "pollTeamOperation"
)

// Op is one operation. ID is unique within a run (change key + suffix) and
// is what results are matched back by, never position.
type Op struct {
	ID   string `json:"id"`
	Kind OpKind `json:"kind"`
	// Key is the deterministic key of the object a create makes (a user's
	// userPrincipalName, a group's mailNickname): its intent is journalled
	// under it before the create is sent, so the object can be found again
	// whatever happens to the answer. Empty for every other op.
	Key string `json:"key,omitempty"`
	// TargetID is the object the op writes to; empty on a create, and on
	// an op that waits for its change's create to give it one.
	TargetID string `json:"targetId,omitempty"`
	// Props are the properties the op writes.
	Props map[string]string `json:"props,omitempty"`
	// Ref is the other object of a reference op (the group a member joins).
	Ref string `json:"ref,omitempty"`
	// SecretKind asks the applier for an initial secret of that kind
	// (strong or words) before the op is sent; it is handed over through
	// the credential store, keyed by Key.
	SecretKind string `json:"secretKind,omitempty"`
	// Invalid, when set, says why the change cannot be carried out (its
	// payload is of a version this build cannot read, say): the applier
	// fails the change with it and sends nothing.
	Invalid string `json:"invalid,omitempty"`
	// Await names an earlier op of the same change whose answer this op
	// follows: it waits until that op is done, and takes that op's result
	// Handle (an asynchronous operation's Location) as its Ref. When the
	// awaited op is done without a Handle (the work was already in effect)
	// there is nothing to follow and the op counts as done.
	Await string `json:"await,omitempty"`
	// Early marks an op the change's later ops need done first (a class's
	// teacher: Teams makes no team for a group without an owner). A round
	// sends it ahead of every op but creates, so when writes are metered
	// (the directory write quota) no change waits for its turn in plan
	// order to get what the others' later ops need.
	Early bool `json:"early,omitempty"`
	// Password is the secret itself. It exists only in memory between
	// generation and the request: never journalled, logged or stored in a
	// plan.
	Password string `json:"-"`
}

// ExpandFunc turns one change of an entity kind into its operations.
// created is the object id the change's create produced, once known; ops
// on a new object carry it then.
type ExpandFunc func(c plan.Change, created string) []Op

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
	TargetID string `json:"targetId,omitempty"`
	// RetryAfter, on Retry, is when to try again; on Done with a Handle,
	// how long the operation it started takes at least to be worth a
	// first look: the ops that Await it wait that long.
	RetryAfter time.Duration `json:"retryAfter,omitempty"`
	// Code and Error carry Graph's error code and message on failure.
	Code  string `json:"code,omitempty"`
	Error string `json:"error,omitempty"`
	// Existing marks a create that met ObjectConflict and found the
	// account it had created before (a retried create): it is linked,
	// not duplicated.
	Existing bool `json:"existing,omitempty"`
	// Handle, on Done, is what a later op of the change needs from this
	// answer (an asynchronous operation's Location; see Op.Await). It is
	// journalled with the change.
	Handle string `json:"handle,omitempty"`
	// Redo, on Retry, names an op of the same change to send again before
	// this one (an asynchronous operation that failed is started anew).
	Redo string `json:"redo,omitempty"`
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
