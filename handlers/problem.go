package handlers

import (
	"encoding/json"
	"net/http"
)

// Every error the API answers is an RFC 9457 problem document, served as
// application/problem+json. Its type is one of the ProblemType values
// below, stable across releases, so a client branches on the type, never
// on the wording of title or detail.

// ProblemType names one kind of error.
type ProblemType string

// ProblemTypeBase prefixes every problem type: a URN, since nothing needs
// to be fetched to understand it; docs/openapi.yaml lists the kinds.
const ProblemTypeBase = "urn:rostersync:problem:"

// The kinds of error. Adding one is fine; renaming one breaks clients.
const (
	ProblemNotFound             ProblemType = ProblemTypeBase + "not-found"
	ProblemUnknownEntity        ProblemType = ProblemTypeBase + "unknown-entity"
	ProblemActionNotOffered     ProblemType = ProblemTypeBase + "action-not-offered"
	ProblemMethodNotAllowed     ProblemType = ProblemTypeBase + "method-not-allowed"
	ProblemValidation           ProblemType = ProblemTypeBase + "validation"
	ProblemConflict             ProblemType = ProblemTypeBase + "conflict"
	ProblemRunInProgress        ProblemType = ProblemTypeBase + "run-in-progress"
	ProblemGone                 ProblemType = ProblemTypeBase + "gone"
	ProblemLengthRequired       ProblemType = ProblemTypeBase + "length-required"
	ProblemPayloadTooLarge      ProblemType = ProblemTypeBase + "payload-too-large"
	ProblemUnsupportedMediaType ProblemType = ProblemTypeBase + "unsupported-media-type"
	ProblemInternal             ProblemType = ProblemTypeBase + "internal"
	ProblemUnsupported          ProblemType = ProblemTypeBase + "unsupported"
	ProblemUnavailable          ProblemType = ProblemTypeBase + "unavailable"
)

// Status and Title are fixed per kind: RFC 9457 asks that a title not
// change from occurrence to occurrence; the detail says what happened.
func (t ProblemType) Status() int {
	switch t {
	case ProblemNotFound, ProblemUnknownEntity, ProblemActionNotOffered:
		return http.StatusNotFound
	case ProblemMethodNotAllowed:
		return http.StatusMethodNotAllowed
	case ProblemValidation:
		return http.StatusBadRequest
	case ProblemConflict, ProblemRunInProgress:
		return http.StatusConflict
	case ProblemGone:
		return http.StatusGone
	case ProblemLengthRequired:
		return http.StatusLengthRequired
	case ProblemPayloadTooLarge:
		return http.StatusRequestEntityTooLarge
	case ProblemUnsupportedMediaType:
		return http.StatusUnsupportedMediaType
	case ProblemUnsupported:
		return http.StatusNotImplemented
	case ProblemUnavailable:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// Title is the kind's short, human-readable summary.
func (t ProblemType) Title() string {
	switch t {
	case ProblemNotFound:
		return "Not found"
	case ProblemUnknownEntity:
		return "Unknown entity"
	case ProblemActionNotOffered:
		return "Action not offered by this entity"
	case ProblemMethodNotAllowed:
		return "Method not allowed"
	case ProblemValidation:
		return "Invalid request"
	case ProblemConflict:
		return "Conflict"
	case ProblemRunInProgress:
		return "A run is in progress"
	case ProblemGone:
		return "Gone"
	case ProblemLengthRequired:
		return "Content-Length required"
	case ProblemPayloadTooLarge:
		return "Body too large"
	case ProblemUnsupportedMediaType:
		return "Unsupported media type"
	case ProblemUnsupported:
		return "Not supported for this entity"
	case ProblemUnavailable:
		return "Temporarily unavailable"
	default:
		return "Internal error"
	}
}

// ProblemContentType is the media type of every error answer.
const ProblemContentType = "application/problem+json"

// Problem is an RFC 9457 problem document. Detail names ids and counts,
// never a person's name, email or password.
type Problem struct {
	Type     ProblemType `json:"type"`
	Title    string      `json:"title"`
	Status   int         `json:"status"`
	Detail   string      `json:"detail,omitempty"`
	Instance string      `json:"instance,omitempty"`
}

// writeProblem answers r with a problem of kind t. The instance is the
// request's path, which names the resource the error is about.
func writeProblem(w http.ResponseWriter, r *http.Request, t ProblemType, detail string) {
	p := Problem{Type: t, Title: t.Title(), Status: t.Status(), Detail: detail}
	if r != nil && r.URL != nil {
		p.Instance = r.URL.EscapedPath()
	}
	w.Header().Set("Content-Type", ProblemContentType)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(p.Status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(p)
}
