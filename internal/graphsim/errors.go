package graphsim

import (
	"fmt"
	"net/http"
)

// Graph error codes the simulator emits. They are the strings Graph puts in
// error.code (shared/research/graph.md §1.4, §3, §4, §6).
const (
	CodeBadRequest                 = "BadRequest"
	CodeRequestBadRequest          = "Request_BadRequest"
	CodeResourceNotFound           = "Request_ResourceNotFound"
	CodeUnsupportedQuery           = "Request_UnsupportedQuery"
	CodeInvalidAuthenticationToken = "InvalidAuthenticationToken"
	CodeTooManyRequests            = "TooManyRequests"
	CodeApplicationThrottled       = "ApplicationThrottled"
	CodeUnsupportedMediaType       = "UnsupportedMediaType"
	CodeNotFound                   = "NotFound"
	CodeMethodNotAllowed           = "MethodNotAllowed"
	CodeConflict                   = "Conflict"
	CodeRequestEntityTooLarge      = "RequestEntityTooLarge"
	CodeInternalServerError        = "InternalServerError"
	CodeObjectConflict             = "ObjectConflict"
	CodeErrorItemNotFound          = "ErrorItemNotFound"
	CodeErrorInvalidRequest        = "ErrorInvalidRequest"
	CodeSyncStateNotFound          = "syncStateNotFound"
	CodeFailedDependency           = "FailedDependency"
	CodeInvalidValue               = "InvalidValue"
	// CodeErrorAccessDenied and CodeErrorGroupsAccessDenied are the 403s
	// Graph answers an app-only write of an Exchange-backed group property
	// with (microsoft-graph-docs-contrib#7866 for allowExternalSenders and
	// autoSubscribeNewMembers, #5138 for hideFromAddressLists and
	// hideFromOutlookClients).
	CodeErrorAccessDenied       = "ErrorAccessDenied"
	CodeErrorGroupsAccessDenied = "ErrorGroupsAccessDenied"
)

// apiError is a Graph error response before it is rendered. Handlers return
// it instead of writing, so $batch can embed the same shape per item.
type apiError struct {
	status  int
	code    string
	message string
	details []errorDetail
	header  http.Header
}

type errorDetail struct {
	Code   string `json:"code"`
	Target string `json:"target,omitempty"`
}

func (e *apiError) Error() string {
	return fmt.Sprintf("graph %d %s: %s", e.status, e.code, e.message)
}

func errf(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

func badRequest(format string, args ...any) *apiError {
	return errf(http.StatusBadRequest, CodeRequestBadRequest, format, args...)
}

// notFound is the directory's 404 for an object id, worded as Graph words it
// (graph.md §6).
func notFound(id string) *apiError {
	return errf(http.StatusNotFound, CodeResourceNotFound,
		"Resource '%s' does not exist or one of its queried reference-property objects are not present.", id)
}

// conflict is Graph's uniqueness failure: 400 Request_BadRequest with an
// ObjectConflict detail naming the property (graph.md §3.1).
func conflict(property string) *apiError {
	e := badRequest("Another object with the same value for property %s already exists.", property)
	e.details = []errorDetail{{Code: CodeObjectConflict, Target: property}}
	return e
}

// invalidValue is Graph's generic validation failure for one property,
// with an InvalidValue detail naming it, as Graph sends it for a group's
// mailNickname (OfficeDev/microsoft-teams-apps-requestateam#265:
// "details":[{"target":"mailNickname","code":"InvalidValue"}]).
func invalidValue(property, resource string) *apiError {
	e := badRequest("Invalid value specified for property '%s' of resource '%s'.", property, resource)
	e.details = []errorDetail{{Code: CodeInvalidValue, Target: property}}
	return e
}

// requiredMissing is the current Graph wording for a missing required
// property on create (msgraph-sdk-powershell#230, 2023 maintainer comment).
func requiredMissing(property string) *apiError {
	return badRequest("Property %s value is required but is empty or missing.", property)
}

// errorBody renders the Graph error envelope. innerError carries date,
// request-id and client-request-id the way Graph does.
func (e *apiError) body(date, requestID, clientRequestID string) map[string]any {
	inner := map[string]any{
		"date":              date,
		"request-id":        requestID,
		"client-request-id": clientRequestID,
	}
	if e.status == http.StatusTooManyRequests {
		// Graph's 429 sample carries these extra innerError fields (graph.md §1.4).
		inner["code"] = "429"
		inner["status"] = "429"
		inner["message"] = "Please retry after"
	}
	errObj := map[string]any{
		"code":       e.code,
		"message":    e.message,
		"innerError": inner,
	}
	if len(e.details) > 0 {
		errObj["details"] = e.details
	}
	return map[string]any{"error": errObj}
}
