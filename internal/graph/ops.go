package graph

import (
	"net/http"
	"net/url"
	"strings"

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
		notVisible: func(status int, ge graphError) bool {
			// Graph's answer for a member not replicated yet has no code of
			// its own (graph.md §6).
			return status == http.StatusBadRequest && strings.Contains(ge.Message, "Not a valid reference update")
		},
	},
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
