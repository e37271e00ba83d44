package graph

import (
	"context"
	"encoding/json"

	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rostersync/rostersync/internal/apply"
	"github.com/rostersync/rostersync/internal/classplan"
)

// teamPollInterval is how long to wait between reads of a
// teamsAsyncOperation: the docs ask for more than 30 seconds between
// checks (graph.md §5).
const teamPollInterval = 31 * time.Second

// teamReplicationWindow is how long after a group is made creating its
// team may still 404: "If the group was created less than 15 minutes ago,
// it's possible for the Create team call to fail with a 404" (team-post.md,
// graph.md §5).
const teamReplicationWindow = 15 * time.Minute

// teamReplicationRetry is the wait after a team create met the 404 Graph
// gives for up to 15 minutes after the class's group was made (graph.md
// §5): handed to the applier as Retry, so it becomes a scheduled
// follow-up, bounded by the attempt cap.
const teamReplicationRetry = 30 * time.Second

// classBody is a POST /education/classes body.
func classBody(props map[string]string) map[string]any {
	body := map[string]any{"displayName": props["displayName"], "mailNickname": props["mailNickname"],
		"externalId": props["externalId"], "externalSource": "sis"}
	if d := props["description"]; d != "" {
		body["description"] = d
	}
	return body
}

// educationUser is the reference form class $ref bodies take: the
// education/users/{id} form both educationclass-post-members.md and
// -teachers.md show.
func (e *Executor) educationUser(id string) string {
	return e.c.adapter.GetBaseUrl() + "/education/users/" + url.PathEscape(id)
}

func classRef(rel string) func(e *Executor, op apply.Op) batchItem {
	return func(e *Executor, op apply.Op) batchItem {
		return batchItem{Method: http.MethodPost, URL: "/education/classes/" + url.PathEscape(op.Ref) + "/" + rel + "/$ref", Headers: jsonHeader,
			Body: map[string]any{"@odata.id": e.educationUser(op.TargetID)}}
	}
}

func classUnref(rel string) func(e *Executor, op apply.Op) batchItem {
	return func(e *Executor, op apply.Op) batchItem {
		return batchItem{Method: http.MethodDelete, URL: "/education/classes/" + url.PathEscape(op.Ref) + "/" + rel + "/" + url.PathEscape(op.TargetID) + "/$ref"}
	}
}

// classTeamBody is the POST /teams body that makes a class's team from
// the educationClass template on its existing group (team-post.md): no
// displayName, visibility or members, which the group gives.
func (e *Executor) classTeamBody(group string) map[string]any {
	base := e.c.adapter.GetBaseUrl()
	return map[string]any{
		"template@odata.bind": base + "/teamsTemplates('educationClass')",
		"group@odata.bind":    base + "/groups('" + group + "')",
	}
}

// acceptedAnswer reads the 202 of an asynchronous Teams write: done, with
// the teamsAsyncOperation's Location as the handle the poll follows, first
// after the poll interval as between any two checks: the operation takes
// tens of seconds, and a look at once only finds it not started.
func acceptedAnswer(e *Executor, op apply.Op, status int, rep *batchReply) (apply.Result, bool) {
	if status < 200 || status > 299 {
		return apply.Result{}, false
	}
	return apply.Result{ID: op.ID, Status: apply.Done, Handle: rep.header("Location"), RetryAfter: e.graphTime(teamPollInterval)}, true
}

// classTeamAnswer reads POST /teams: 202 is done with the operation to
// poll; a 404 is the class's group not replicated to Teams yet, and a
// refusal for want of an owner is a teacher $ref of the same round not
// seen yet: both go back to the applier as Retry (a scheduled wait, never
// a sleeping worker); a team that exists already is done with nothing to
// poll.
func classTeamAnswer(e *Executor, op apply.Op, status int, rep *batchReply) (apply.Result, bool) {
	if status >= 200 && status <= 299 {
		return acceptedAnswer(e, op, status, rep)
	}
	ge := parseGraphError(rep.Body)
	switch {
	case status == http.StatusConflict:
		return apply.Result{ID: op.ID, Status: apply.Done}, true
	case status == http.StatusNotFound:
		return apply.Result{ID: op.ID, Status: apply.Retry, RetryAfter: e.graphTime(teamReplicationRetry), Code: codeOr(ge.Code, status), Error: ge.Message}, true
	case status == http.StatusBadRequest && strings.Contains(strings.ToLower(ge.Message), "owner"):
		return apply.Result{ID: op.ID, Status: apply.Retry, RetryAfter: e.graphTime(10 * time.Second), Code: codeOr(ge.Code, status), Error: ge.Message}, true
	}
	return apply.Result{}, false
}

// pollAnswer reads a teamsAsyncOperation: notStarted or inProgress is
// Retry after the poll interval, succeeded is done, failed sends the op
// that started it again (Redo; the attempt cap bounds how often).
func pollAnswer(e *Executor, op apply.Op, status int, rep *batchReply) (apply.Result, bool) {
	if status == http.StatusNotFound {
		// Not readable yet: the operation replicates like anything else.
		return apply.Result{ID: op.ID, Status: apply.Retry, RetryAfter: e.graphTime(teamPollInterval), Code: "NotFound", Error: "team operation not visible yet"}, true
	}
	if status < 200 || status > 299 {
		return apply.Result{}, false
	}
	var o struct {
		Status string `json:"status"`
		Error  *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	_ = json.Unmarshal(rep.Body, &o)
	switch o.Status {
	case "succeeded":
		e.c.teamFailures.reset(op.TargetID + "|" + op.Await)
		return apply.Result{ID: op.ID, Status: apply.Done}, true
	case "failed":
		res := apply.Result{ID: op.ID, Status: apply.Retry, RetryAfter: e.graphTime(teamReplicationRetry), Redo: op.Await, Code: "TeamOperationFailed", Error: "team operation failed"}
		if o.Error != nil {
			res.Code, res.Error = cmp(o.Error.Code, res.Code), cmp(o.Error.Message, res.Error)
		}
		if n := e.c.teamFailures.add(op.TargetID + "|" + op.Await); n >= maxTeamOperationFailures {
			// Bounded: the change ends failed with Teams' own reason, not
			// with whatever the attempt cap's last answer happens to be.
			res.Status, res.RetryAfter, res.Redo = apply.Failed, 0, ""
			res.Error = fmt.Sprintf("%s (the team operation failed %d times)", res.Error, n)
		}
		return res, true
	}
	return apply.Result{ID: op.ID, Status: apply.Retry, RetryAfter: e.graphTime(teamPollInterval), Code: o.Status, Error: "team operation " + o.Status}, true
}

// maxTeamOperationFailures is how many failed teamsAsyncOperations of one
// team and kind (create, archive, unarchive) are retried before the change
// is reported failed with the operation's error.
const maxTeamOperationFailures = 3

// teamFailureCounts counts failed team operations per team and op in this
// process (on the Client, so every executor of the tenant shares it); a
// restarted process starts again, still bounded by the applier's attempt
// cap.
type teamFailureCounts struct {
	mu sync.Mutex
	n  map[string]int
}

func (f *teamFailureCounts) add(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n == nil {
		f.n = map[string]int{}
	}
	f.n[key]++
	return f.n[key]
}

func (f *teamFailureCounts) reset(key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.n, key)
}

func cmp(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// ClassroomsSnapshot reads the tenant as the classrooms planner needs it:
// the education classes (paged), their teachers and members as the
// groups' owners and members (one paged groups/delta, the cheapest whole
// read), and per class whether its team exists and is archived. On a
// tenant whose education API refuses, it returns classplan.ErrNotEducation.
func (c *Client) ClassroomsSnapshot(ctx context.Context) (classplan.Directory, error) {
	return c.ClassroomsSnapshotAt(ctx, 1)
}

// ClassroomsSnapshotAt is ClassroomsSnapshot against a Graph whose clock
// runs scale times faster than the wall clock (the simulator's). Its
// per-class team reads (List teams leaves isArchived null, so each team is
// read) are paced at Teams' documented rate for GET /teams/{id}, sharing
// the tenant's Teams pace with the executor's polls: sent as fast as they
// answer, a school's 600 reads are mostly 429s.
func (c *Client) ClassroomsSnapshotAt(ctx context.Context, scale float64) (classplan.Directory, error) {
	if scale <= 0 {
		scale = 1
	}
	var classes []classplan.Class
	next := c.adapter.GetBaseUrl() + "/education/classes?$select=id,displayName,mailNickname,externalId&$top=999"
	for next != "" {
		var page struct {
			Value    []classplan.Class `json:"value"`
			NextLink string            `json:"@odata.nextLink"`
		}
		if status, err := c.getJSONStatus(ctx, next, &page); err != nil {
			if status == http.StatusBadRequest || status == http.StatusForbidden {
				return classplan.Directory{}, fmt.Errorf("%w: tenant %s: the education API refused: %v", classplan.ErrNotEducation, c.tenantID, err)
			}
			return classplan.Directory{}, fmt.Errorf("snapshot of tenant %s: education classes: %w", c.tenantID, err)
		}
		classes = append(classes, page.Value...)
		next = page.NextLink
	}
	groups, err := c.GroupsSnapshot(ctx)
	if err != nil {
		return classplan.Directory{}, err
	}
	out := classplan.Directory{Classes: make([]classplan.Class, 0, len(classes))}
	byID := map[string]int{}
	for i, g := range groups.Groups {
		byID[strings.ToLower(g.ID)] = i
		out.Nicknames = append(out.Nicknames, g.MailNickname)
	}
	for _, cl := range classes {
		if i, ok := byID[strings.ToLower(cl.ID)]; ok {
			cl.Teachers, cl.Members = groups.Groups[i].Owners, groups.Groups[i].Members
		}
		var team struct {
			IsArchived bool `json:"isArchived"`
		}
		if err := c.paceTeams(ctx, teamsGet, scale); err != nil {
			return classplan.Directory{}, fmt.Errorf("snapshot of tenant %s: %w", c.tenantID, err)
		}
		status, err := c.getJSONStatus(ctx, c.adapter.GetBaseUrl()+"/teams/"+url.PathEscape(cl.ID)+"?$select=id,isArchived", &team)
		switch {
		case err == nil:
			cl.Team, cl.Archived = true, team.IsArchived
		case status == http.StatusNotFound:
		default:
			return classplan.Directory{}, fmt.Errorf("snapshot of tenant %s: team of class %s: %w", c.tenantID, cl.ID, err)
		}
		out.Classes = append(out.Classes, cl)
	}
	slices.SortFunc(out.Classes, func(a, b classplan.Class) int { return strings.Compare(a.ID, b.ID) })
	slices.Sort(out.Nicknames)
	return out, nil
}

// operationPath turns a 202's Location ("/teams('a')/operations('b')",
// maybe absolute) into the $batch-relative path to GET.
func operationPath(loc string) string {
	if i := strings.Index(loc, "/teams"); i >= 0 {
		return loc[i:]
	}
	return loc
}

// paceTeams waits until the tenant's Teams pace lets one request of l go.
func (c *Client) paceTeams(ctx context.Context, l teamsLimit, scale float64) error {
	for {
		d := c.teamsPace.reserve(l, time.Now(), scale)
		if d == 0 {
			return nil
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}
