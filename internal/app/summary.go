package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/rostersync/rostersync/internal/config"
	"github.com/rostersync/rostersync/internal/graph"
	"github.com/rostersync/rostersync/internal/secrets"
	"github.com/rostersync/rostersync/internal/summary"
)

// graphMailer sends summaries from the vendor's own mailbox: a Graph
// client for the vendor's tenant, built by a factory signed in as the
// vendor's single-tenant summary app (never the multi-tenant app
// customers consent to, so no school grants Mail.Send).
type graphMailer struct {
	client   func(ctx context.Context, tenantID string) (*graph.Client, error)
	tenantID string
	sender   string
}

func (m graphMailer) SendMail(ctx context.Context, mail summary.Mail) error {
	c, err := m.client(ctx, m.tenantID)
	if err != nil {
		return err
	}
	return c.SendMail(ctx, m.sender, graph.Mail{To: []string{mail.To}, Subject: mail.Subject, HTML: mail.HTML, Text: mail.Text})
}

// summaryService builds the daily summary's sender from the settings, or
// nil when SummarySender is empty. With the simulator, sim is its Graph
// factory (static tokens name the vendor's tenant); otherwise the factory
// is the main one's configuration with SummaryAppClientId, opened on first
// use like the main one.
func summaryService(getenv func(string) string, src secrets.Source, sim *graph.Factory, store summary.Store, log *slog.Logger) (*summary.Service, error) {
	sender := config.Lookup(getenv, config.SummarySender, "")
	if sender == "" {
		return nil, nil
	}
	tenantID := config.Lookup(getenv, config.SummaryTenantID, "")
	if tenantID == "" {
		return nil, fmt.Errorf("setting %s: the vendor's tenant id is required when %s is set", config.SummaryTenantID, config.SummarySender)
	}
	m := graphMailer{tenantID: tenantID, sender: sender}
	if sim != nil {
		m.client = sim.Client
	} else {
		appID := config.Lookup(getenv, config.SummaryAppClientID, "")
		if appID == "" {
			return nil, fmt.Errorf("setting %s: the summary app registration's client id is required when %s is set", config.SummaryAppClientID, config.SummarySender)
		}
		l := &lazy[*graph.Factory]{name: "graph (summary)", open: func(ctx context.Context) (*graph.Factory, error) {
			cfg, err := graphConfig(ctx, getenv, src)
			if errors.Is(err, secrets.ErrNotFound) || errors.Is(err, secrets.ErrInvalidName) {
				return nil, fmt.Errorf("%w: %v", errNotConfigured, err)
			}
			if err != nil {
				return nil, err
			}
			cfg.AppClientID = appID
			f, err := graph.NewFactory(cfg)
			if err != nil {
				return nil, fmt.Errorf("%w: %v", errNotConfigured, err)
			}
			return f, nil
		}}
		m.client = lazyFactory{l}.Client
	}
	return summary.New(store, m, summary.Options{RunURL: config.Lookup(getenv, config.SummaryRunURL, ""), Log: log}), nil
}
