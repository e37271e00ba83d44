// Package summary writes and sends the daily summary email: per customer
// and local day, what each profile's runs did to each entity (changes,
// held, failed, unsynced), as counts with a link to each run. It reads run
// records only, which hold ids and counts, so no pupil's name reaches the
// email.
package summary

import (
	"bytes"
	"fmt"
	"html/template"
	"maps"
	"net/url"
	"slices"
	"strings"
	texttemplate "text/template"

	"github.com/rostersync/rostersync/internal/runs"
	"github.com/rostersync/rostersync/internal/tenant"
)

// Input is one customer's day.
type Input struct {
	Customer tenant.Customer
	// Day is the customer's local date, YYYY-MM-DD.
	Day string
	// Profiles names the customer's profiles by id (a run of a profile
	// since deleted shows its id).
	Profiles map[string]string
	// Runs are the runs created that day, in any order.
	Runs []runs.Run
	// RunURL is the root run links are made from: a run's link is
	// {RunURL}/customers/{c}/runs/{run} (the vendor UI, or the API's run
	// route).
	RunURL string
}

// Message is a composed summary: the HTML body and its plain-text part.
type Message struct {
	Subject string
	HTML    string
	Text    string
}

// Count keys the run records use (see internal/reconcile).
const (
	plannedPrefix = "plan."
	appliedPrefix = "applied."
	failedPrefix  = "failed."
	keyHeld       = "held"
	keyUnsynced   = "unsynced"
	keyQuarantine = "quarantined"
)

type view struct {
	Customer      string
	CustomerID    string
	Day           string
	Revoked       bool
	Runs          []runView
	TotalRuns     int
	TotalChanged  int
	TotalFailed   int
	TotalUnsynced int
}

type runView struct {
	ID, Profile, Trigger, Status, Link string
	Simulation                         bool
	Entities                           []entityView
}

type entityView struct {
	Entity, Status string
	// Changed, Planned and Failed are "action n" lists, e.g. "create 3".
	Changed, Planned, Failed []string
	Held                     string
	Unsynced, Quarantined    int
	Error                    string
}

// Compose writes the summary of in. It is pure: the same input gives the
// same message, byte for byte.
func Compose(in Input) (Message, error) {
	v := view{Customer: in.Customer.Name, CustomerID: in.Customer.ID, Day: in.Day,
		Revoked: in.Customer.Status == tenant.StatusConsentRevoked}
	if v.Customer == "" {
		v.Customer = in.Customer.ID
	}
	rs := slices.Clone(in.Runs)
	// Profile by profile, each profile's runs in the order they ran.
	slices.SortFunc(rs, func(a, b runs.Run) int {
		if c := strings.Compare(a.ProfileID, b.ProfileID); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	for _, r := range rs {
		name := in.Profiles[r.ProfileID]
		if name == "" {
			name = r.ProfileID
		} else if name != r.ProfileID {
			name += " (" + r.ProfileID + ")"
		}
		rv := runView{ID: r.ID, Profile: name, Trigger: r.Trigger, Status: string(r.Status),
			Link: runLink(in.RunURL, r.CustomerID, r.ID), Simulation: r.Mode == runs.ModeSimulate}
		for _, e := range r.Entities {
			ev := entityView{Entity: e.Entity, Status: string(e.Status), Held: e.Held, Error: e.Error,
				Unsynced: e.Counts[keyUnsynced], Quarantined: e.Counts[keyQuarantine]}
			for _, k := range slices.Sorted(maps.Keys(e.Counts)) {
				n := e.Counts[k]
				if n == 0 {
					continue
				}
				switch {
				case strings.HasPrefix(k, appliedPrefix):
					ev.Changed = append(ev.Changed, fmt.Sprintf("%s %d", strings.TrimPrefix(k, appliedPrefix), n))
					v.TotalChanged += n
				case strings.HasPrefix(k, failedPrefix):
					ev.Failed = append(ev.Failed, fmt.Sprintf("%s %d", strings.TrimPrefix(k, failedPrefix), n))
					v.TotalFailed += n
				case strings.HasPrefix(k, plannedPrefix) && rv.Simulation:
					ev.Planned = append(ev.Planned, fmt.Sprintf("%s %d", strings.TrimPrefix(k, plannedPrefix), n))
				}
			}
			if ev.Held == "" && e.Counts[keyHeld] > 0 {
				ev.Held = fmt.Sprintf("%d changes await confirmation", e.Counts[keyHeld])
			}
			v.TotalUnsynced += ev.Unsynced
			rv.Entities = append(rv.Entities, ev)
		}
		v.Runs = append(v.Runs, rv)
	}
	v.TotalRuns = len(v.Runs)
	var h, t bytes.Buffer
	if err := htmlTmpl.Execute(&h, v); err != nil {
		return Message{}, fmt.Errorf("summary of customer %s day %s: html: %w", in.Customer.ID, in.Day, err)
	}
	if err := textTmpl.Execute(&t, v); err != nil {
		return Message{}, fmt.Errorf("summary of customer %s day %s: text: %w", in.Customer.ID, in.Day, err)
	}
	return Message{Subject: fmt.Sprintf("rostersync daily summary: %s, %s", v.Customer, in.Day), HTML: h.String(), Text: t.String()}, nil
}

// runLink is root/customers/{c}/runs/{r}, ids escaped; "" without a root.
func runLink(root, customerID, runID string) string {
	if root == "" {
		return ""
	}
	return strings.TrimRight(root, "/") + "/customers/" + url.PathEscape(customerID) + "/runs/" + url.PathEscape(runID)
}

var funcs = map[string]any{"join": strings.Join}

var htmlTmpl = template.Must(template.New("html").Funcs(funcs).Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>rostersync daily summary</title></head>
<body style="font-family:Segoe UI,Arial,sans-serif;font-size:14px">
<h1 style="font-size:18px">{{.Customer}}: what rostersync did on {{.Day}}</h1>
{{- if .Revoked}}
<p style="color:#a4262c"><strong>Admin consent was revoked in your Microsoft 365 tenant: no sync runs until a Global Administrator gives admin consent again.</strong></p>
{{- end}}
<p>{{.TotalRuns}} runs, {{.TotalChanged}} changes made, {{.TotalFailed}} failed, {{.TotalUnsynced}} unsynced. Counts only; each run's report has the details.</p>
{{- range .Runs}}
<h2 style="font-size:16px">Profile {{.Profile}}: run {{if .Link}}<a href="{{.Link}}">{{.ID}}</a>{{else}}{{.ID}}{{end}} ({{.Trigger}}{{if .Simulation}}, simulation: nothing written{{end}}), {{.Status}}</h2>
<table style="border-collapse:collapse" cellpadding="4" border="1">
<tr><th>entity</th><th>status</th><th>changed</th><th>held</th><th>failed</th><th>unsynced</th></tr>
{{- range .Entities}}
<tr><td>{{.Entity}}</td><td>{{.Status}}</td><td>{{if .Changed}}{{join .Changed ", "}}{{else if .Planned}}would: {{join .Planned ", "}}{{else}}none{{end}}</td><td>{{if .Held}}{{.Held}}{{else}}none{{end}}</td><td>{{if .Failed}}{{join .Failed ", "}}{{else}}none{{end}}{{if .Error}}<br>{{.Error}}{{end}}</td><td>{{.Unsynced}}{{if .Quarantined}} ({{.Quarantined}} feed rows quarantined){{end}}</td></tr>
{{- end}}
</table>
{{- else}}
<p>No runs.</p>
{{- end}}
</body></html>
`))

var textTmpl = texttemplate.Must(texttemplate.New("text").Funcs(funcs).Parse(`{{.Customer}}: what rostersync did on {{.Day}}
{{- if .Revoked}}

ADMIN CONSENT WAS REVOKED in your Microsoft 365 tenant: no sync runs until a Global Administrator gives admin consent again.
{{- end}}

{{.TotalRuns}} runs, {{.TotalChanged}} changes made, {{.TotalFailed}} failed, {{.TotalUnsynced}} unsynced. Counts only; each run's report has the details.
{{- range .Runs}}

Profile {{.Profile}}: run {{.ID}} ({{.Trigger}}{{if .Simulation}}, simulation: nothing written{{end}}), {{.Status}}
{{- if .Link}}
  report: {{.Link}}
{{- end}}
{{- range .Entities}}
  {{.Entity}}: {{.Status}}
    changed: {{if .Changed}}{{join .Changed ", "}}{{else if .Planned}}would: {{join .Planned ", "}}{{else}}none{{end}}
    held: {{if .Held}}{{.Held}}{{else}}none{{end}}
    failed: {{if .Failed}}{{join .Failed ", "}}{{else}}none{{end}}{{if .Error}} ({{.Error}}){{end}}
    unsynced: {{.Unsynced}}{{if .Quarantined}} ({{.Quarantined}} feed rows quarantined){{end}}
{{- end}}
{{- else}}

No runs.
{{- end}}
`))
