package app

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rostersync/rostersync/internal/graph"
	"github.com/rostersync/rostersync/internal/graphsim"
	"github.com/rostersync/rostersync/internal/summary"
)

// TestSummaryMailReachesTheSimulator sends a composed summary through the
// Graph client's sendMail (MIME form: the HTML and its plain-text part) to
// the simulator, which checks the request's shape, from the vendor tenant's mailbox named by the settings.
func TestSummaryMailReachesTheSimulator(t *testing.T) {
	const vendor = "0e0e0e0e-0000-4000-8000-00000000000a"
	sim := graphsim.New(graphsim.Options{ConsistencyDelay: -1})
	if err := sim.AddTenant(graphsim.TenantState{ID: vendor, DisplayName: "Vendor", Edition: graphsim.EditionBusiness,
		Domains: []graphsim.Domain{{ID: "vendor.example", IsVerified: true, IsDefault: true}},
		Users: []map[string]any{{"id": "5e5e5e5e-0000-4000-8000-000000000001", "userPrincipalName": "summaries@vendor.example",
			"displayName": "rostersync summaries", "mail": "summaries@vendor.example", "accountEnabled": true}}}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	defer srv.Close()
	factory, err := graph.NewFactory(graph.Config{Mode: graph.ModeStatic, BaseURL: srv.URL + "/v1.0"})
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"SummarySender": "summaries@vendor.example", "SummaryTenantId": vendor}
	svc, err := summaryService(func(k string) string { return env[k] }, nil, factory, nil, nil)
	if err != nil || svc == nil {
		t.Fatalf("summaryService = %v, %v", svc, err)
	}
	m := graphMailer{client: factory.Client, tenantID: vendor, sender: "summaries@vendor.example"}
	msg, err := summary.Compose(summary.Input{Day: "2026-03-02"})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.SendMail(t.Context(), summary.Mail{To: "it-logs@oakfield.example", Message: msg}); err != nil {
		t.Fatalf("SendMail: %v", err)
	}
	sent := sim.SentMail(vendor)
	if len(sent) != 1 || sent[0].To[0] != "it-logs@oakfield.example" || sent[0].ContentType != "html" ||
		sent[0].Subject != msg.Subject || !strings.Contains(sent[0].Content, "No runs.") || !sent[0].SaveToSentItems {
		t.Fatalf("simulator kept %+v", sent)
	}
	// HTML with a plain-text part: sendMail's MIME form, multipart/alternative.
	crlf := func(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }
	if p := sent[0].Parts; !sent[0].MIME || len(p) != 2 || p[0].ContentType != "text/plain" || p[0].Content != crlf(msg.Text) ||
		p[1].ContentType != "text/html" || p[1].Content != crlf(msg.HTML) {
		t.Fatalf("simulator kept parts %+v (MIME %v)", sent[0].Parts, sent[0].MIME)
	}
	// Without the vendor's tenant the settings are refused.
	delete(env, "SummaryTenantId")
	if _, err := summaryService(func(k string) string { return env[k] }, nil, factory, nil, nil); err == nil {
		t.Error("SummarySender without SummaryTenantId was accepted")
	}
}
