package graph

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rostersync/rostersync/internal/apply"
	"github.com/rostersync/rostersync/internal/graphsim"
)

// docsBase is Graph's root as Microsoft's pages write it, and the base URL
// the client has in production.
const docsBase = "https://graph.microsoft.com/v1.0"

// wireItem is one request of a $batch as it left the process.
type wireItem struct {
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers"`
	Body    json.RawMessage   `json:"body"`
}

// wireRecorder is the transport under the production middleware: it
// records each $batch's requests as sent to Graph's own host, then carries
// the request to the simulator.
type wireRecorder struct {
	sim   http.RoundTripper
	to    *url.URL
	mu    sync.Mutex
	posts []string // "METHOD absolute-URL" of every HTTP request
	items []wireItem
}

func (w *wireRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	r.Body.Close()
	plain := raw
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, err
		}
		if plain, err = io.ReadAll(zr); err != nil {
			return nil, err
		}
	}
	w.mu.Lock()
	w.posts = append(w.posts, r.Method+" "+r.URL.String())
	if strings.HasSuffix(r.URL.Path, "/$batch") {
		var b struct {
			Requests []wireItem `json:"requests"`
		}
		if err := json.Unmarshal(plain, &b); err != nil {
			w.mu.Unlock()
			return nil, err
		}
		w.items = append(w.items, b.Requests...)
	}
	w.mu.Unlock()
	out := r.Clone(r.Context())
	out.URL.Scheme, out.URL.Host, out.Host = w.to.Scheme, w.to.Host, w.to.Host
	out.Body = io.NopCloser(bytes.NewReader(raw))
	return w.sim.RoundTrip(out)
}

// take returns and forgets what was recorded.
func (w *wireRecorder) take() ([]string, []wireItem) {
	w.mu.Lock()
	defer w.mu.Unlock()
	p, it := w.posts, w.items
	w.posts, w.items = nil, nil
	return p, it
}

// TestClassroomOpsOnTheWire sends each classrooms op kind through the
// production client, configured for https://graph.microsoft.com/v1.0, and
// pins the request that leaves the process against Microsoft's pages
// (microsoft-graph-docs-contrib, api-reference/v1.0/api): method, URL,
// Content-Type and body. The requests then reach the simulator, which must
// take each as Graph would.
func TestClassroomOpsOnTheWire(t *testing.T) {
	env := newSimEnv(t, graphsim.Options{TeamReplicationDelay: -1, TeamProvisioningDelay: -1}, simTenant(), nil)
	to, _ := url.Parse(env.srv.URL)
	rec := &wireRecorder{sim: env.srv.Client().Transport, to: to}
	f := newFactory(t, Config{Mode: ModeStatic, BaseURL: DefaultBaseURL, AllowStaticRemote: true})
	hc, err := newHTTPClient(f.s, rec)
	if err != nil {
		t.Fatal(err)
	}
	f.httpClient = hc
	c, err := f.Client(t.Context(), tenantA)
	if err != nil {
		t.Fatal(err)
	}
	ex := NewExecutor(c, ExecutorOptions{})

	// send executes one op and returns its result and its request.
	send := func(t *testing.T, op apply.Op) (apply.Result, wireItem) {
		t.Helper()
		res := ex.Execute(t.Context(), []apply.Op{op})
		posts, items := rec.take()
		if len(res) != 1 || len(items) != 1 {
			t.Fatalf("%s: %d results and %d requests, want one of each: %+v", op.Kind, len(res), len(items), res)
		}
		for _, p := range posts {
			if p != "POST "+docsBase+"/$batch" {
				t.Errorf("%s went as %s, want POST %s/$batch", op.Kind, p, docsBase)
			}
		}
		return res[0], items[0]
	}
	var class, location string
	for _, tc := range []struct {
		// doc is the page the request is checked against.
		doc string
		op  func() apply.Op
		// method and url as the page's HTTP request reads, {class},
		// {user} and {operation} filled in; body is the JSON the page
		// shows (nil: no body).
		method, url string
		body        map[string]any
		status      apply.ResultStatus
	}{
		{"educationclass-post.md", func() apply.Op {
			return apply.Op{ID: "c#create", Kind: apply.OpCreateClass, Key: "2026-10aen2", Props: map[string]string{"displayName": "2026-10AEn/2",
				"mailNickname": "2026-10aen2", "description": "10AEn/2", "externalId": "class-10aen2"}}
		}, "POST", "/education/classes",
			map[string]any{"displayName": "2026-10AEn/2", "mailNickname": "2026-10aen2", "description": "10AEn/2", "externalId": "class-10aen2", "externalSource": "sis"}, apply.Done},
		{"educationclass-post-teachers.md", func() apply.Op {
			return apply.Op{ID: "c#teacher", Kind: apply.OpAddClassTeacher, Ref: class, TargetID: simExisting}
		}, "POST", "/education/classes/{class}/teachers/$ref", map[string]any{"@odata.id": docsBase + "/education/users/" + simExisting}, apply.Done},
		{"educationclass-post-members.md", func() apply.Op {
			return apply.Op{ID: "c#member", Kind: apply.OpAddClassMember, Ref: class, TargetID: simMember}
		}, "POST", "/education/classes/{class}/members/$ref", map[string]any{"@odata.id": docsBase + "/education/users/" + simMember}, apply.Done},
		{"team-post.md (example 4, create a team from a group; example 6, the educationClass template)", func() apply.Op {
			return apply.Op{ID: "c#team", Kind: apply.OpCreateClassTeam, TargetID: class}
		}, "POST", "/teams", map[string]any{"template@odata.bind": docsBase + "/teamsTemplates('educationClass')", "group@odata.bind": docsBase + "/groups('{class}')"}, apply.Done},
		{"teamsasyncoperation-get.md (the Location team-post.md answers)", func() apply.Op {
			return apply.Op{ID: "c#team-poll", Kind: apply.OpPollTeamOperation, TargetID: class, Await: "c#team", Ref: location}
		}, "GET", "/teams('{class}')/operations('{operation}')", nil, apply.Done},
		{"team-archive.md (the body is optional; shouldSetSpoSiteReadOnlyForMembers is left out)", func() apply.Op {
			return apply.Op{ID: "c#archive", Kind: apply.OpArchiveTeam, TargetID: class}
		}, "POST", "/teams/{class}/archive", nil, apply.Done},
		{"team-unarchive.md (no body)", func() apply.Op {
			return apply.Op{ID: "c#unarchive", Kind: apply.OpUnarchiveTeam, TargetID: class}
		}, "POST", "/teams/{class}/unarchive", nil, apply.Done},
		{"educationclass-delete-members.md", func() apply.Op {
			return apply.Op{ID: "c#unmember", Kind: apply.OpRemoveClassMember, Ref: class, TargetID: simMember}
		}, "DELETE", "/education/classes/{class}/members/" + simMember + "/$ref", nil, apply.Done},
		{"educationclass-delete-teachers.md", func() apply.Op {
			return apply.Op{ID: "c#unteacher", Kind: apply.OpRemoveClassTeacher, Ref: class, TargetID: simExisting}
		}, "DELETE", "/education/classes/{class}/teachers/" + simExisting + "/$ref", nil, apply.Done},
	} {
		op := tc.op()
		t.Run(string(op.Kind), func(t *testing.T) {
			res, got := send(t, op)
			fill := strings.NewReplacer("{class}", class, "{operation}", operationID(location))
			if got.Method != tc.method || docsBase+got.URL != docsBase+fill.Replace(tc.url) {
				t.Errorf("request %s %s%s, want %s %s%s (%s)", got.Method, docsBase, got.URL, tc.method, docsBase, fill.Replace(tc.url), tc.doc)
			}
			switch {
			case tc.body == nil && len(got.Body) > 0 && string(got.Body) != "null":
				t.Errorf("body %s, want none (%s)", got.Body, tc.doc)
			case tc.body != nil:
				if got.Headers["Content-Type"] != "application/json" {
					t.Errorf("headers %v, want Content-Type application/json (%s)", got.Headers, tc.doc)
				}
				want := map[string]any{}
				for k, v := range tc.body {
					want[k] = fill.Replace(v.(string))
				}
				var have map[string]any
				if err := json.Unmarshal(got.Body, &have); err != nil {
					t.Fatalf("body %s: %v", got.Body, err)
				}
				wb, _ := json.Marshal(want)
				hb, _ := json.Marshal(have)
				if string(wb) != string(hb) {
					t.Errorf("body %s, want %s (%s)", hb, wb, tc.doc)
				}
			}
			if res.Status != tc.status {
				t.Errorf("result %s %s %s, want %s: the simulator did not take the request as Graph documents it", res.Status, res.Code, res.Error, tc.status)
			}
			switch op.Kind {
			case apply.OpCreateClass:
				class = res.TargetID
			case apply.OpCreateClassTeam:
				location = res.Handle
				if !strings.HasPrefix(location, "/teams('"+class+"')/operations('") {
					t.Errorf("handle %q, want the teamsAsyncOperation's Location /teams('%s')/operations('…')", location, class)
				}
			}
		})
		if class == "" {
			t.Fatal("no class to go on with")
		}
	}
}

// operationID is the operation id of a Location
// "/teams('…')/operations('id')".
func operationID(loc string) string {
	_, after, ok := strings.Cut(loc, "/operations('")
	if !ok {
		return ""
	}
	return strings.TrimSuffix(after, "')")
}

// TestTeamsThrottleKeepsToTeams: a 429 from Teams (its own limits,
// graph.md §1.3) closes the Teams gate only; it neither holds directory
// and education writes nor starts pacing them at the directory quota.
// Before, one throttled POST /teams paced a whole classrooms run's class
// enrolments at 19 writes/s (BenchmarkUsersAndClassrooms).
func TestTeamsThrottleKeepsToTeams(t *testing.T) {
	faults := &graphsim.Faults{Request: func(r graphsim.FaultRequest) *graphsim.Fault {
		if r.Method == http.MethodPost && r.Path == "/teams" {
			return &graphsim.Fault{Status: http.StatusTooManyRequests, Code: "TooManyRequests", Message: "throttled", Header: http.Header{"Retry-After": {"30"}}}
		}
		return nil
	}}
	env := newSimEnv(t, graphsim.Options{Faults: faults, TeamReplicationDelay: -1}, simTenant(), nil)
	ex := NewExecutor(env.client, ExecutorOptions{MaxWait: time.Millisecond})
	res := executeAll(t, ex, []apply.Op{{ID: "c#create", Kind: apply.OpCreateClass, Key: "c1", Props: map[string]string{"displayName": "C1", "mailNickname": "c1"}}})
	class := res["c#create"].TargetID
	team := ex.Execute(t.Context(), []apply.Op{{ID: "c#team", Kind: apply.OpCreateClassTeam, TargetID: class}})
	if len(team) != 1 || team[0].Status != apply.Retry {
		t.Fatalf("throttled team create: %+v, want Retry", team)
	}
	now := time.Now()
	if g := env.client.teamsThrottle.gate(); !g.After(now) {
		t.Errorf("Teams gate ends %v, want closed for the Retry-After", g)
	}
	if g := env.client.throttle.gate(); g.After(now) || env.client.throttle.paced {
		t.Errorf("directory gate ends %v, paced %t: a Teams 429 held the directory", g, env.client.throttle.paced)
	}
	start := time.Now()
	res = executeAll(t, ex, []apply.Op{{ID: "c#member", Kind: apply.OpAddClassMember, Ref: class, TargetID: simMember}})
	if res["c#member"].Status != apply.Done || time.Since(start) > 5*time.Second {
		t.Errorf("enrolment during Teams' Retry-After: %+v after %v, want done at once", res["c#member"], time.Since(start))
	}
}
