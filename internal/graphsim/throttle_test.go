package graphsim

import (
	"strconv"
	"testing"
	"time"
)

const otherApp = "11111111-2222-4333-8444-555555555555"

func TestWriteQuotaDefaults(t *testing.T) {
	h := newHarness(t, Options{})
	body := map[string]any{"jobTitle": "x"}
	for i := range 3000 {
		res := h.do("PATCH", "/v1.0/users/"+sam, body)
		if res.status != 204 {
			t.Fatalf("write %d: got %d %s, want 204 (3,000 writes fit a full bucket)", i+1, res.status, res.raw)
		}
	}
	res := h.do("PATCH", "/v1.0/users/"+sam, body)
	h.want(res, 429, CodeTooManyRequests)
	// 3,000 per 150 s refills one write every 50 ms.
	if got := res.header.Get("Retry-After"); got != "0.05" {
		t.Errorf("Retry-After = %q, want 0.05", got)
	}
	if got, want := res.header.Get("x-ms-throttle-scope"), "Tenant_Application/Write/"+DefaultAppID+"/"+eduTenant; got != want {
		t.Errorf("x-ms-throttle-scope = %q, want %q", got, want)
	}
	if got := res.header.Get("x-ms-throttle-information"); got != "WriteLimitExceeded" {
		t.Errorf("x-ms-throttle-information = %q", got)
	}
	h.clk.Advance(49 * time.Millisecond)
	h.want(h.do("PATCH", "/v1.0/users/"+sam, body), 429, CodeTooManyRequests)
	h.clk.Advance(time.Millisecond)
	h.want(h.do("PATCH", "/v1.0/users/"+sam, body), 204, "")
	// Reads are not writes: they still pass.
	h.want(h.do("GET", "/v1.0/users/"+sam, nil), 200, "")
	st, _ := h.s.Stats(eduTenant)
	if st.Throttled != 2 || st.Writes != 3001 {
		t.Errorf("Stats = %+v, want 2 throttled and 3001 writes", st)
	}
}

func TestThrottleScopes(t *testing.T) {
	small := func(edit func(*Limits)) *Limits {
		l := DefaultLimits()
		edit(&l)
		return &l
	}
	type step struct {
		tenant, app  string
		method, path string
		status       int
		scope        string // wanted x-ms-throttle-scope prefix on 429
		info         string
	}
	patchSam := func(app string, status int, scope, info string) step {
		return step{eduTenant, app, "PATCH", "/v1.0/users/" + sam, status, scope, info}
	}
	tests := []struct {
		name   string
		limits *Limits
		steps  []step
	}{
		{
			name:   "resource units per app and tenant",
			limits: small(func(l *Limits) { l.ResourceUnits[SizeS] = 5 }),
			steps: []step{
				{eduTenant, "", "GET", "/v1.0/users", 200, "", ""},
				{eduTenant, "", "GET", "/v1.0/users", 200, "", ""},
				{eduTenant, "", "GET", "/v1.0/users", 429, "Tenant_Application/ReadWrite/", "ResourceUnitLimitExceeded"},
				// $select makes it cost 1, which still fits.
				{eduTenant, "", "GET", "/v1.0/users?$select=id", 200, "", ""},
				{eduTenant, otherApp, "GET", "/v1.0/users", 200, "", ""},
			},
		},
		{
			name:   "tenant write quota across apps",
			limits: small(func(l *Limits) { l.AppTenantWrites = 3; l.TenantWrites = 4 }),
			steps: []step{
				patchSam("", 204, "", ""), patchSam("", 204, "", ""), patchSam("", 204, "", ""),
				patchSam("", 429, "Tenant_Application/Write/", "WriteLimitExceeded"),
				patchSam(otherApp, 204, "", ""),
				patchSam(otherApp, 429, "Tenant/Write/", "WriteLimitExceeded"),
			},
		},
		{
			name:   "application write quota across tenants",
			limits: small(func(l *Limits) { l.AppWrites = 2 }),
			steps: []step{
				patchSam("", 204, "", ""),
				{bizTenant, "", "GET", "/v1.0/users", 200, "", ""},
				{bizTenant, "", "POST", "/v1.0/users", 400, "", ""}, // bad body, but admitted: it counts
				patchSam("", 429, "Application/Write/", "WriteLimitExceeded"),
				patchSam(otherApp, 204, "", ""),
			},
		},
		{
			name:   "education rate per app and tenant",
			limits: small(func(l *Limits) { l.EducationAppTenant = 2 }),
			steps: []step{
				{eduTenant, "", "GET", "/v1.0/education/classes", 200, "", ""},
				{eduTenant, "", "GET", "/v1.0/education/schools", 200, "", ""},
				{eduTenant, "", "GET", "/v1.0/education/users", 429, "Tenant_Application/ReadWrite/", "RequestLimitExceeded"},
				// Directory calls are judged by their own limits.
				{eduTenant, "", "GET", "/v1.0/users", 200, "", ""},
			},
		},
		{
			name:   "outlook rate per app and mailbox",
			limits: small(func(l *Limits) { l.OutlookMailboxRequests = 2 }),
			steps: []step{
				{eduTenant, "", "GET", "/v1.0/users/" + ada + "/events", 200, "", ""},
				{eduTenant, "", "GET", "/v1.0/users/ada.teacher@contoso.school/calendarView?startDateTime=2026-01-01&endDateTime=2026-02-01", 200, "", ""},
				{eduTenant, "", "GET", "/v1.0/users/" + ada + "/events", 429, "Tenant_Application/ReadWrite/", "RequestLimitExceeded"},
				{eduTenant, otherApp, "GET", "/v1.0/users/" + ada + "/events", 200, "", ""},
			},
		},
		{
			name:   "global request limit per app",
			limits: small(func(l *Limits) { l.AppRequests = 2 }),
			steps: []step{
				{eduTenant, "", "GET", "/v1.0/domains", 200, "", ""},
				{bizTenant, "", "GET", "/v1.0/domains", 200, "", ""},
				{bizTenant, "", "GET", "/v1.0/domains", 429, "Application/ReadWrite/", "RequestLimitExceeded"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, Options{Limits: tt.limits})
			for i, st := range tt.steps {
				tok := "Bearer sim:" + st.tenant
				if st.app != "" {
					tok += ":" + st.app
				}
				var body any
				if st.method != "GET" {
					body = map[string]any{"jobTitle": "x"}
				}
				res := h.do(st.method, st.path, body, "Authorization", tok)
				if res.status != st.status {
					t.Fatalf("step %d %s %s: got %d %s, want %d", i, st.method, st.path, res.status, res.raw, st.status)
				}
				if st.status == 429 {
					scope := res.header.Get("x-ms-throttle-scope")
					if len(scope) < len(st.scope) || scope[:len(st.scope)] != st.scope {
						t.Errorf("step %d: x-ms-throttle-scope = %q, want prefix %q", i, scope, st.scope)
					}
					if got := res.header.Get("x-ms-throttle-information"); got != st.info {
						t.Errorf("step %d: x-ms-throttle-information = %q, want %q", i, got, st.info)
					}
					if ra, err := strconv.ParseFloat(res.header.Get("Retry-After"), 64); err != nil || ra <= 0 {
						t.Errorf("step %d: Retry-After = %q", i, res.header.Get("Retry-After"))
					}
				}
			}
		})
	}
}

func TestResourceUnitCosts(t *testing.T) {
	h := newHarness(t, Options{})
	tests := []struct {
		method, path string
		want         string
	}{
		{"GET", "/v1.0/users", "2"},
		{"GET", "/v1.0/users?$select=id,displayName", "1"},
		{"GET", "/v1.0/users?$top=5", "1"},
		{"GET", "/v1.0/users?$top=999&$select=id", "1"},
		{"GET", "/v1.0/users/" + ada, "1"},
		{"GET", "/v1.0/users/" + ada + "/memberOf", "2"},
		{"GET", "/v1.0/groups/" + allStaff + "/members", "3"},
		{"GET", "/v1.0/groups/" + allStaff + "?$expand=members", "2"},
		{"GET", "/v1.0/subscribedSkus", "3"},
		{"PATCH", "/v1.0/users/" + sam, "1"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			h.t = t
			var body any
			if tt.method == "PATCH" {
				body = map[string]any{"jobTitle": "x"}
			}
			res := h.do(tt.method, tt.path, body)
			if res.status >= 300 {
				t.Fatalf("got %d %s", res.status, res.raw)
			}
			if got := res.header.Get("x-ms-resource-unit"); got != tt.want {
				t.Errorf("x-ms-resource-unit = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLatencyModel(t *testing.T) {
	h := newHarness(t, Options{Latency: Latency{Read: time.Second, Write: 3 * time.Second}, TimeScale: 10})
	done := make(chan *result, 1)
	go func() {
		done <- h.do("POST", "/v1.0/$batch", map[string]any{"requests": []batchReq{postUserItem("1", "lat"), {"id": "2", "method": "GET", "url": "/domains"}}})
	}()
	deadline := time.Now().Add(5 * time.Second)
	for h.clk.Waiters() < 1 {
		if time.Now().After(deadline) {
			t.Fatal("batch never waited")
		}
		time.Sleep(time.Millisecond)
	}
	// A batch with a write waits the write latency once: 3 s / 10.
	h.clk.Advance(299 * time.Millisecond)
	select {
	case <-done:
		t.Fatal("batch answered before its latency")
	case <-time.After(20 * time.Millisecond):
	}
	h.clk.Advance(time.Millisecond)
	if res := <-done; res.status != 200 {
		t.Errorf("batch = %d", res.status)
	}
}

func TestThrottleDetails(t *testing.T) {
	t.Run("limit percentage appears past 80%", func(t *testing.T) {
		l := DefaultLimits()
		l.AppTenantWrites = 10
		h := newHarness(t, Options{Limits: &l})
		for i := 1; i <= 9; i++ {
			res := h.do("PATCH", "/v1.0/users/"+sam, map[string]any{"jobTitle": "x"})
			got := res.header.Get("x-ms-throttle-limit-percentage")
			if (i >= 8) != (got != "") {
				t.Errorf("write %d: x-ms-throttle-limit-percentage = %q", i, got)
			}
		}
	})
	t.Run("time scale shortens Retry-After", func(t *testing.T) {
		l := DefaultLimits()
		l.AppTenantWrites = 1
		h := newHarness(t, Options{Limits: &l, TimeScale: 10})
		h.do("PATCH", "/v1.0/users/"+sam, map[string]any{"jobTitle": "x"})
		res := h.do("PATCH", "/v1.0/users/"+sam, map[string]any{"jobTitle": "x"})
		// One write per 150 s, scaled by 10: 15 s.
		if got := res.header.Get("Retry-After"); got != "15" {
			t.Errorf("Retry-After = %q, want 15", got)
		}
	})
	t.Run("integer Retry-After rounds up", func(t *testing.T) {
		h := newHarness(t, Options{IntegerRetryAfter: true, Limits: func() *Limits { l := DefaultLimits(); l.AppTenantWrites = 1; return &l }(), TimeScale: 1000})
		h.do("PATCH", "/v1.0/users/"+sam, map[string]any{"jobTitle": "x"})
		res := h.do("PATCH", "/v1.0/users/"+sam, map[string]any{"jobTitle": "x"})
		if got := res.header.Get("Retry-After"); got != "1" {
			t.Errorf("Retry-After = %q, want 1", got)
		}
	})
	t.Run("size class follows user count", func(t *testing.T) {
		l := DefaultLimits()
		l.ResourceUnits = map[SizeClass]int{SizeS: 2, SizeM: 4, SizeL: 6}
		st := State{Tenants: []TenantState{{ID: "grow", Edition: EditionBusiness}}}
		for i := range 50 {
			st.Tenants[0].Users = append(st.Tenants[0].Users, map[string]any{"userPrincipalName": "u" + strconv.Itoa(i) + "@grow.onmicrosoft.com", "displayName": "u"})
		}
		h := newHarness(t, Options{Limits: &l})
		if err := h.s.Load(st); err != nil {
			t.Fatal(err)
		}
		h.tok = "Bearer sim:grow"
		for i := range 4 {
			h.want(h.do("GET", "/v1.0/domains", nil), 200, "")
			_ = i
		}
		h.want(h.do("GET", "/v1.0/domains", nil), 429, CodeTooManyRequests)
	})
	t.Run("disabled", func(t *testing.T) {
		l := DefaultLimits()
		l.AppTenantWrites = 1
		l.Disabled = true
		h := newHarness(t, Options{Limits: &l})
		for range 3 {
			h.want(h.do("PATCH", "/v1.0/users/"+sam, map[string]any{"jobTitle": "x"}), 204, "")
		}
	})
}
