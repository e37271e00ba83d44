package graphsim

import (
	"strings"
	"testing"
)

type batchReq = map[string]any

func postUserItem(id, alias string) batchReq {
	return batchReq{"id": id, "method": "POST", "url": "/users", "headers": map[string]any{"Content-Type": "application/json"}, "body": newUserBody(alias)}
}

func batchResponses(t *testing.T, res *result) (order []string, byID map[string]map[string]any) {
	t.Helper()
	byID = map[string]map[string]any{}
	for _, r := range res.body["responses"].([]any) {
		m := r.(map[string]any)
		order = append(order, str(m["id"]))
		byID[str(m["id"])] = m
	}
	return order, byID
}

func TestBatch(t *testing.T) {
	h := newHarness(t, Options{})
	getDep := batchReq{"id": "2", "method": "GET", "url": "/users?$filter=userPrincipalName eq 'batch1@contoso.school'&$select=id", "dependsOn": []string{"1"}}
	bad := postUserItem("3", "batch3")
	delete(bad["body"].(map[string]any), "displayName")
	res := h.do("POST", "/v1.0/$batch", map[string]any{"requests": []batchReq{
		postUserItem("1", "batch1"),
		getDep,
		bad,
		{"id": "4", "method": "POST", "url": "/users/" + sam + "/revokeSignInSessions", "dependsOn": []string{"3"}},
		{"id": "5", "method": "GET", "url": "/users/$count", "headers": map[string]any{"ConsistencyLevel": "eventual"}},
		{"id": "6", "method": "GET", "url": "/users/00000000-0000-4000-8000-000000000000"},
	}})
	h.want(res, 200, "")
	order, byID := batchResponses(t, res)
	if strings.Join(order, ",") == "1,2,3,4,5,6" {
		t.Errorf("responses came back in request order; the simulator scrambles them so clients correlate by id")
	}
	wantStatus := map[string]float64{"1": 201, "2": 200, "3": 400, "4": 424, "5": 200, "6": 404}
	for id, want := range wantStatus {
		if got := byID[id]["status"]; got != want {
			t.Errorf("item %s status = %v, want %v (%v)", id, got, want, byID[id])
		}
	}
	if v := byID["2"]["body"].(map[string]any)["value"].([]any); len(v) != 1 {
		t.Errorf("dependent GET saw %d users, want the one created by item 1", len(v))
	}
	if byID["5"]["body"] != "4" {
		t.Errorf("$count item body = %v, want \"4\"", byID["5"]["body"])
	}
	hdrs := byID["1"]["headers"].(map[string]any)
	if hdrs["x-ms-resource-unit"] != "1" || !strings.HasPrefix(str(hdrs["Content-Type"]), "application/json") {
		t.Errorf("item 1 headers = %v", hdrs)
	}
	if e := byID["4"]["body"].(map[string]any)["error"].(map[string]any); e["code"] != CodeFailedDependency {
		t.Errorf("item 4 error = %v", e)
	}
}

func TestBatchValidation(t *testing.T) {
	h := newHarness(t, Options{})
	many := make([]batchReq, 21)
	for i := range many {
		many[i] = batchReq{"id": string(rune('a' + i)), "method": "GET", "url": "/domains"}
	}
	tests := []struct {
		name string
		body any
	}{
		{"21 requests", map[string]any{"requests": many}},
		{"no requests", map[string]any{"requests": []any{}}},
		{"duplicate ids ignore case", map[string]any{"requests": []batchReq{{"id": "a", "method": "GET", "url": "/domains"}, {"id": "A", "method": "GET", "url": "/domains"}}}},
		{"forward dependency", map[string]any{"requests": []batchReq{{"id": "1", "method": "GET", "url": "/domains", "dependsOn": []string{"2"}}, {"id": "2", "method": "GET", "url": "/domains"}}}},
		{"body without Content-Type", map[string]any{"requests": []batchReq{{"id": "1", "method": "POST", "url": "/users", "body": map[string]any{"a": 1}}}}},
		{"missing url", map[string]any{"requests": []batchReq{{"id": "1", "method": "GET"}}}},
		{"malformed", []byte(`{"requests":[`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.t = t
			h.want(h.do("POST", "/v1.0/$batch", tt.body), 400, CodeBadRequest)
		})
	}
	t.Run("item-level errors", func(t *testing.T) {
		h.t = t
		res := h.do("POST", "/v1.0/$batch", map[string]any{"requests": []batchReq{
			{"id": "1", "method": "POST", "url": "/$batch", "headers": map[string]any{"Content-Type": "application/json"}, "body": map[string]any{"requests": []any{}}},
			{"id": "2", "method": "GET", "url": "https://graph.microsoft.com/v1.0/users"},
			{"id": "3", "method": "GET", "url": "users/" + ada},
		}})
		h.want(res, 200, "")
		_, byID := batchResponses(t, res)
		for id, want := range map[string]float64{"1": 400, "2": 400, "3": 200} {
			if byID[id]["status"] != want {
				t.Errorf("item %s = %v, want %v", id, byID[id], want)
			}
		}
	})
	t.Run("20 requests", func(t *testing.T) {
		h.t = t
		h.want(h.do("POST", "/v1.0/$batch", map[string]any{"requests": many[:20]}), 200, "")
	})
}

func TestBatchItemsThrottledSeparately(t *testing.T) {
	l := DefaultLimits()
	l.AppTenantWrites = 3
	h := newHarness(t, Options{Limits: &l})
	var items []batchReq
	for i := range 5 {
		items = append(items, postUserItem(string(rune('1'+i)), "thr"+string(rune('a'+i))))
	}
	items = append(items, batchReq{"id": "6", "method": "GET", "url": "/users/" + ada})
	res := h.do("POST", "/v1.0/$batch", map[string]any{"requests": items})
	h.want(res, 200, "")
	_, byID := batchResponses(t, res)
	var created, throttled int
	for _, it := range byID {
		switch it["status"] {
		case float64(201):
			created++
		case float64(429):
			throttled++
			hdr := it["headers"].(map[string]any)
			if hdr["Retry-After"] == nil || !strings.HasPrefix(str(hdr["x-ms-throttle-scope"]), "Tenant_Application/Write/") {
				t.Errorf("throttled item headers = %v", hdr)
			}
		}
	}
	if created != 3 || throttled != 2 || byID["6"]["status"] != float64(200) {
		t.Errorf("created %d, throttled %d, read %v; want 3, 2, 200", created, throttled, byID["6"]["status"])
	}
	st, _ := h.s.Stats(eduTenant)
	if st.Batches != 1 || st.Throttled != 2 || st.Requests["POST users"] != 5 {
		t.Errorf("Stats = %+v", st)
	}
}
