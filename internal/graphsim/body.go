package graphsim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// decodeObject parses a JSON object request body. Malformed or empty JSON
// gets Graph's 400, never a panic.
func decodeObject(r *request) (map[string]any, *apiError) {
	if len(bytes.TrimSpace(r.body)) == 0 {
		return nil, errf(http.StatusBadRequest, CodeBadRequest, "Empty Payload. JSON content expected.")
	}
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		return nil, unreadableJSON()
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, unreadableJSON()
	}
	normalise(m)
	return m, nil
}

func unreadableJSON() *apiError {
	return errf(http.StatusBadRequest, CodeBadRequest, "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.")
}

// propKind is the JSON type a property takes.
type propKind int

const (
	kString propKind = iota
	kBool
	kInt
	kStrings
	kObject
	kObjects
	kAny
)

// checkTypes rejects properties a type does not define and values of the
// wrong JSON type, with OData's messages. Annotations (keys containing
// '@') and directory extensions pass through.
func checkTypes(body map[string]any, typeName string, props map[string]propKind) *apiError {
	for k, v := range body {
		if strings.Contains(k, "@") || strings.HasPrefix(k, "extension_") {
			continue
		}
		kind, ok := props[k]
		if !ok {
			return errf(http.StatusBadRequest, CodeBadRequest, "The property '%s' does not exist on type 'microsoft.graph.%s'. Make sure to only use property names that are defined by the type or mark the type as open type.", k, typeName)
		}
		if v == nil {
			continue
		}
		bad := false
		switch kind {
		case kString:
			_, isStr := v.(string)
			bad = !isStr
		case kBool:
			_, isBool := v.(bool)
			bad = !isBool
		case kInt:
			_, isInt := v.(int64)
			bad = !isInt
		case kStrings:
			arr, isArr := v.([]any)
			bad = !isArr
			for _, e := range arr {
				if _, ok := e.(string); !ok {
					bad = true
				}
			}
		case kObject:
			_, isObj := v.(map[string]any)
			bad = !isObj
		case kObjects:
			arr, isArr := v.([]any)
			bad = !isArr
			for _, e := range arr {
				if _, ok := e.(map[string]any); !ok {
					bad = true
				}
			}
		}
		if bad {
			return errf(http.StatusBadRequest, CodeBadRequest, "Cannot convert the literal '%s' to the expected type for property '%s'.", literal(v), k)
		}
	}
	return nil
}

func literal(v any) string {
	b, _ := json.Marshal(v)
	return strings.Trim(string(b), `"`)
}

// refID extracts the object id from an @odata.id / @odata.bind URL such
// as https://graph.microsoft.com/v1.0/directoryObjects/{id},
// .../users('{id}') or .../education/users/{id}.
// refFromBody reads the object id of a reference add's {"@odata.id": …}.
func refFromBody(r *request) (string, *apiError) {
	body, err := decodeObject(r)
	if err != nil {
		return "", err
	}
	ref, ok := body["@odata.id"].(string)
	if !ok {
		return "", errf(http.StatusBadRequest, CodeBadRequest, "The request payload must contain '@odata.id'.")
	}
	id, ok := refID(ref)
	if !ok {
		return "", badRef(ref)
	}
	return id, nil
}

func refID(ref string) (string, bool) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return "", false
	}
	if i := strings.Index(ref, "?"); i >= 0 {
		ref = ref[:i]
	}
	segs := splitPath(ref)
	if len(segs) == 0 {
		return "", false
	}
	id := segs[len(segs)-1]
	if id == "" || strings.ContainsAny(id, " ") || strings.HasSuffix(id, ":") {
		return "", false
	}
	return strings.ToLower(id), true
}

func badRef(ref string) *apiError {
	return errf(http.StatusBadRequest, CodeBadRequest, "Invalid object identifier '%s'.", ref)
}

func bindList(v any, prop string) ([]string, *apiError) {
	arr, ok := v.([]any)
	if !ok {
		return nil, errf(http.StatusBadRequest, CodeBadRequest, "The value of '%s' must be an array of URLs.", prop)
	}
	out := make([]string, 0, len(arr))
	for _, e := range arr {
		s, ok := e.(string)
		if !ok {
			return nil, errf(http.StatusBadRequest, CodeBadRequest, "The value of '%s' must be an array of URLs.", prop)
		}
		id, ok := refID(s)
		if !ok {
			return nil, badRef(s)
		}
		out = append(out, id)
	}
	return out, nil
}

func fmtInt(n int) string { return fmt.Sprintf("%d", n) }
