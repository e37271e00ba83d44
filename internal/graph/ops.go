package graph

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/rostersync/rostersync/internal/apply"
)

// opSpec is everything the executor knows about one kind of operation: how
// it becomes a request and how its answer is read. Kinds are registered in
// opSpecs and nowhere else; the executor's control flow only asks these.
type opSpec struct {
	// invalid says what makes an op of the kind unsendable, or "".
	invalid func(op apply.Op) string
	// request builds the op's $batch request (without its id).
	request func(e *Executor, op apply.Op) batchItem
	// noop reports an op with nothing to write, done without a request.
	noop func(op apply.Op) bool
	// create marks an op that makes an object: its answer carries the new
	// id, and a uniqueness conflict on its Key means it may exist already
	// (a lost answer), so the object is looked up by Key instead of
	// failing.
	create *createSpec
	// alreadyDone reports an answer that says the write is in effect
	// already (a member added twice).
	alreadyDone func(status int, ge graphError) bool
	// followsCreate marks ops that only ever come right after their
	// object's create, so a "not found" is replication lag even in a
	// process that did not make the object.
	followsCreate bool
	// notVisible reports answers, besides 404, that mean the target has
	// not replicated yet.
	notVisible func(status int, ge graphError) bool
	// teams marks a Microsoft Teams request and names the Teams limit it
	// counts against: Teams throttles it apart from the directory, so its
	// 429s close the Teams gate only, the directory write quota does not
	// meter it, and it is paced at that limit's rate instead (teamsPace).
	teams teamsLimit
	// replicationWindow, when set, marks a kind whose ops wait for their
	// target to replicate to the service they address, for up to that
	// long after it was made: a class's team cannot be made until its
	// group has reached Teams, up to 15 minutes (graph.md §5). The objects
	// are made in the order the ops come (the plan's order, creates
	// first), and one made after an object that has not got there has not
	// either. So within one Execute such ops go one at a time, oldest
	// first, until one is answered other than "not replicated" (a 404 its
	// answer hook turns into Retry); that answer hands back the later ones
	// unsent, instead of sending each to meet the same 404 and spend the
	// service's request rate. For targets this client made, the lag is
	// learnt as the directory's is (Client.replicaFresh, twice the age of
	// the oldest target still refused, at most the window), and an op is
	// handed back unsent until its target is that old.
	replicationWindow time.Duration
	// answer, when set, reads the op's answer first (any status but 429
	// and transient ones): an asynchronous write's 202 and Location, a
	// teamsAsyncOperation's status. ok false leaves it to the generic
	// reading.
	answer func(e *Executor, op apply.Op, status int, rep *batchReply) (res apply.Result, ok bool)
}

// createSpec is how a create's object is found again by its key.
type createSpec struct {
	// lookup builds the GET that finds the object holding op.Key.
	lookup func(op apply.Op) batchItem
	// same reports whether a found object is the one op would have made.
	same func(op apply.Op, found map[string]any) bool
	// what names the key in messages.
	what string
}

var jsonHeader = map[string]string{"Content-Type": "application/json"}

// opSpecs is the registry of operation kinds.
var opSpecs = map[apply.OpKind]opSpec{
	apply.OpCreateUser: {
		invalid: func(op apply.Op) string {
			switch {
			case op.Password == "":
				return "create without an initial password"
			case op.Props["userPrincipalName"] == "":
				return "create without a userPrincipalName"
			}
			return ""
		},
		request: func(e *Executor, op apply.Op) batchItem {
			body := userBody(op.Props, false)
			if _, set := body["accountEnabled"]; !set {
				body["accountEnabled"] = true
			}
			body["passwordProfile"] = map[string]any{"password": op.Password, "forceChangePasswordNextSignIn": true}
			return batchItem{Method: http.MethodPost, URL: "/users", Headers: jsonHeader, Body: body}
		},
		create: &createSpec{
			lookup: func(op apply.Op) batchItem {
				upn := strings.ReplaceAll(op.Props["userPrincipalName"], "'", "''")
				q := "$filter=" + queryEscape("userPrincipalName eq '"+upn+"'") + "&$select=" + strings.Join(lookupSelect, ",")
				return batchItem{Method: http.MethodGet, URL: "/users?" + q}
			},
			same: func(op apply.Op, acct map[string]any) bool { return sameAccount(op.Props, acct) },
			what: "userPrincipalName",
		},
	},
	apply.OpPatchUser: {
		invalid: needsTarget,
		noop:    func(op apply.Op) bool { return len(op.Props) == 0 },
		request: func(e *Executor, op apply.Op) batchItem {
			return batchItem{Method: http.MethodPatch, URL: userPath(op), Headers: jsonHeader, Body: userBody(op.Props, true)}
		},
	},
	apply.OpRevokeSessions: {
		invalid: needsTarget,
		request: func(e *Executor, op apply.Op) batchItem {
			return batchItem{Method: http.MethodPost, URL: userPath(op) + "/revokeSignInSessions"}
		},
	},
	apply.OpAssignLicense: {
		invalid: func(op apply.Op) string {
			if op.Props["skuId"] == "" {
				return "assignLicense without a SKU"
			}
			return needsTarget(op)
		},
		request: func(e *Executor, op apply.Op) batchItem {
			body := map[string]any{
				"addLicenses":    []any{map[string]any{"skuId": op.Props["skuId"], "disabledPlans": []string{}}},
				"removeLicenses": []string{},
			}
			return batchItem{Method: http.MethodPost, URL: userPath(op) + "/assignLicense", Headers: jsonHeader, Body: body}
		},
		followsCreate: true,
	},
	apply.OpAddMember: {
		invalid: func(op apply.Op) string {
			if op.Ref == "" {
				return "addGroupMember without a group"
			}
			return needsTarget(op)
		},
		request: func(e *Executor, op apply.Op) batchItem {
			body := map[string]any{"@odata.id": e.directoryObject(op.TargetID)}
			return batchItem{Method: http.MethodPost, URL: "/groups/" + url.PathEscape(op.Ref) + "/members/$ref", Headers: jsonHeader, Body: body}
		},
		alreadyDone:   alreadyMember,
		followsCreate: true,
		notVisible:    referenceNotVisible,
	},
	apply.OpCreateGroup: {
		invalid: func(op apply.Op) string {
			switch {
			case op.Props["mailNickname"] == "" || op.Key == "":
				return "createGroup without a mailNickname"
			case op.Props["displayName"] == "":
				return "createGroup without a displayName"
			case len(splitIDs(op.Props["owners"]))+len(splitIDs(op.Props["members"])) > maxCreateBinds:
				return "createGroup binds more than 20 owners and members"
			}
			return ""
		},
		request: func(e *Executor, op apply.Op) batchItem {
			return batchItem{Method: http.MethodPost, URL: "/groups", Headers: jsonHeader, Body: e.groupBody(op.Props)}
		},
		// An owner or member bound in the create, made moments ago, has not
		// replicated yet (graph.md §6): the create waits and goes again.
		notVisible: referenceNotVisible,
		create: &createSpec{
			lookup: func(op apply.Op) batchItem {
				nick := strings.ReplaceAll(op.Key, "'", "''")
				q := "$filter=" + queryEscape("mailNickname eq '"+nick+"'") + "&$select=id,mailNickname,displayName"
				return batchItem{Method: http.MethodGet, URL: "/groups?" + q}
			},
			same: func(op apply.Op, g map[string]any) bool {
				name, _ := g["displayName"].(string)
				return strings.EqualFold(strings.TrimSpace(name), strings.TrimSpace(op.Props["displayName"]))
			},
			what: "mailNickname",
		},
	},
	apply.OpAddOwner: {
		invalid: groupRef,
		request: func(e *Executor, op apply.Op) batchItem {
			body := map[string]any{"@odata.id": e.directoryObject(op.TargetID)}
			return batchItem{Method: http.MethodPost, URL: "/groups/" + url.PathEscape(op.Ref) + "/owners/$ref", Headers: jsonHeader, Body: body}
		},
		alreadyDone:   alreadyMember,
		followsCreate: true,
	},
	apply.OpRemoveMember: {
		invalid: groupRef,
		request: func(e *Executor, op apply.Op) batchItem { return removeRef(op, "members") },
		// Not there (any more): the removal is in effect.
		alreadyDone: func(status int, _ graphError) bool { return status == http.StatusNotFound },
	},
	apply.OpRemoveOwner: {
		invalid:     groupRef,
		request:     func(e *Executor, op apply.Op) batchItem { return removeRef(op, "owners") },
		alreadyDone: func(status int, _ graphError) bool { return status == http.StatusNotFound },
	},
	apply.OpDeleteGroup: {
		invalid: needsTarget,
		request: func(e *Executor, op apply.Op) batchItem {
			return batchItem{Method: http.MethodDelete, URL: "/groups/" + url.PathEscape(op.TargetID)}
		},
		alreadyDone: func(status int, _ graphError) bool { return status == http.StatusNotFound },
	},
	apply.OpPatchGroup: {
		invalid: needsTarget,
		noop:    func(op apply.Op) bool { return len(op.Props) == 0 },
		request: func(e *Executor, op apply.Op) batchItem {
			body := map[string]any{}
			for k, v := range op.Props {
				body[k] = v
			}
			return batchItem{Method: http.MethodPatch, URL: "/groups/" + url.PathEscape(op.TargetID), Headers: jsonHeader, Body: body}
		},
	},
	// Classrooms (classrooms.go): the class, its enrolments one $ref each
	// in the education/users/{id} form, its team from the educationClass
	// template, archive and unarchive, and the polls of their
	// teamsAsyncOperations.
	apply.OpCreateClass: {
		invalid: func(op apply.Op) string {
			if op.Key == "" || op.Props["mailNickname"] == "" || op.Props["displayName"] == "" {
				return "createClass without a displayName and mailNickname"
			}
			return ""
		},
		request: func(e *Executor, op apply.Op) batchItem {
			return batchItem{Method: http.MethodPost, URL: "/education/classes", Headers: jsonHeader, Body: classBody(op.Props)}
		},
		// The class's group has the class's id and mailNickname.
		create: classGroupLookup,
	},
	apply.OpAddClassTeacher: {invalid: groupRef, request: classRef("teachers"), alreadyDone: alreadyMember, followsCreate: true,
		notVisible: func(status int, ge graphError) bool {
			return status == http.StatusBadRequest && strings.Contains(ge.Message, "Not a valid reference update")
		}},
	apply.OpAddClassMember: {invalid: groupRef, request: classRef("members"), alreadyDone: alreadyMember, followsCreate: true,
		notVisible: func(status int, ge graphError) bool {
			return status == http.StatusBadRequest && strings.Contains(ge.Message, "Not a valid reference update")
		}},
	apply.OpRemoveClassTeacher: {invalid: groupRef, request: classUnref("teachers"),
		alreadyDone: func(status int, _ graphError) bool { return status == http.StatusNotFound }},
	apply.OpRemoveClassMember: {invalid: groupRef, request: classUnref("members"),
		alreadyDone: func(status int, _ graphError) bool { return status == http.StatusNotFound }},
	apply.OpCreateClassTeam: {
		invalid: needsTarget,
		request: func(e *Executor, op apply.Op) batchItem {
			return batchItem{Method: http.MethodPost, URL: "/teams", Headers: jsonHeader, Body: e.classTeamBody(op.TargetID)}
		},
		answer:            classTeamAnswer,
		teams:             teamsCreate,
		replicationWindow: teamReplicationWindow,
	},
	apply.OpArchiveTeam: {
		invalid: needsTarget,
		request: func(e *Executor, op apply.Op) batchItem {
			return batchItem{Method: http.MethodPost, URL: "/teams/" + url.PathEscape(op.TargetID) + "/archive"}
		},
		answer: acceptedAnswer,
		teams:  teamsDefault,
	},
	apply.OpUnarchiveTeam: {
		invalid: needsTarget,
		request: func(e *Executor, op apply.Op) batchItem {
			return batchItem{Method: http.MethodPost, URL: "/teams/" + url.PathEscape(op.TargetID) + "/unarchive"}
		},
		answer: acceptedAnswer,
		teams:  teamsDefault,
	},
	apply.OpPollTeamOperation: {
		invalid: func(op apply.Op) string {
			if op.Ref == "" || op.Await == "" {
				return "pollTeamOperation without an operation to poll"
			}
			return ""
		},
		request: func(e *Executor, op apply.Op) batchItem {
			return batchItem{Method: http.MethodGet, URL: operationPath(op.Ref)}
		},
		answer: pollAnswer,
		teams:  teamsGet,
	},
}

// classGroupLookup finds a class by its group's mailNickname (a class and
// its group share id and nickname).
var classGroupLookup = &createSpec{
	lookup: func(op apply.Op) batchItem {
		nick := strings.ReplaceAll(op.Key, "'", "''")
		q := "$filter=" + queryEscape("mailNickname eq '"+nick+"'") + "&$select=id,mailNickname,displayName"
		return batchItem{Method: http.MethodGet, URL: "/groups?" + q}
	},
	same: func(op apply.Op, g map[string]any) bool {
		name, _ := g["displayName"].(string)
		return strings.EqualFold(strings.TrimSpace(name), strings.TrimSpace(op.Props["displayName"]))
	},
	what: "mailNickname",
}

// maxCreateBinds is Graph's limit of owner and member references in one
// POST /groups (graph.md §4.1).
const maxCreateBinds = 20

// groupRef is what a reference op on a group needs: the group and the
// object.
func groupRef(op apply.Op) string {
	if op.Ref == "" {
		return string(op.Kind) + " without a group"
	}
	return needsTarget(op)
}

// removeRef is DELETE /groups/{Ref}/{rel}/{TargetID}/$ref. The $ref is
// never left out: without it Graph deletes the member object itself.
func removeRef(op apply.Op, rel string) batchItem {
	return batchItem{Method: http.MethodDelete, URL: "/groups/" + url.PathEscape(op.Ref) + "/" + rel + "/" + url.PathEscape(op.TargetID) + "/$ref"}
}

// groupBody is a POST /groups body: a Microsoft 365 group (mail-enabled,
// not security-enabled, with its visibility and creation-only
// resourceBehaviorOptions) or a security group, with its owners and
// members bound.
func (e *Executor) groupBody(props map[string]string) map[string]any {
	unified := props["unified"] == "true"
	body := map[string]any{
		"displayName":     props["displayName"],
		"mailNickname":    props["mailNickname"],
		"mailEnabled":     unified,
		"securityEnabled": !unified,
		"groupTypes":      []string{},
	}
	if unified {
		body["groupTypes"] = []string{"Unified"}
		if v := props["visibility"]; v != "" {
			body["visibility"] = v
		}
		if o := splitIDs(props["options"]); len(o) > 0 {
			body["resourceBehaviorOptions"] = o
		}
	}
	for _, rel := range []string{"owners", "members"} {
		ids := splitIDs(props[rel])
		if len(ids) == 0 {
			continue
		}
		binds := make([]string, len(ids))
		for i, id := range ids {
			binds[i] = e.directoryObject(id)
		}
		body[rel+"@odata.bind"] = binds
	}
	return body
}

func splitIDs(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// referenceNotVisible is Graph's answer to a reference (a member, an owner)
// that has not replicated yet; it has no code of its own (graph.md §6).
func referenceNotVisible(status int, ge graphError) bool {
	return status == http.StatusBadRequest && strings.Contains(ge.Message, "Not a valid reference update")
}

func needsTarget(op apply.Op) string {
	if op.TargetID == "" {
		return string(op.Kind) + " without a target object"
	}
	return ""
}

func userPath(op apply.Op) string { return "/users/" + url.PathEscape(op.TargetID) }

// directoryObject is the @odata.id Graph expects in a reference body.
func (e *Executor) directoryObject(id string) string {
	return e.c.adapter.GetBaseUrl() + "/directoryObjects/" + url.PathEscape(id)
}
