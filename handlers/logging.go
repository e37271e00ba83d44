package handlers

import (
	"context"
	"io"
	"log/slog"
)

// NewLogHandler returns the handler's slog handler: one text line per
// record, INFO and DEBUG to stdout, WARN and ERROR to stderr.
//
// The Functions host reads a custom handler's two streams differently
// (azure-functions-host WorkerProcess.OnOutputDataReceived and
// ParseErrorMessageAndLog, with HttpWorkerDescription.UseStdErrorStreamForErrorsOnly
// = true for custom handlers): every stdout line is logged at Information,
// every stderr line at Error unless it contains "warn", which makes it a
// Warning. Writing INFO to stderr would record every line as an error;
// WARN lines carry "level=WARN" and so stay warnings.
func NewLogHandler(stdout, stderr io.Writer, opts *slog.HandlerOptions) slog.Handler {
	return splitHandler{low: slog.NewTextHandler(stdout, opts), high: slog.NewTextHandler(stderr, opts)}
}

type splitHandler struct {
	low, high slog.Handler // below slog.LevelWarn, and from it
}

func (h splitHandler) Enabled(ctx context.Context, l slog.Level) bool {
	if l >= slog.LevelWarn {
		return h.high.Enabled(ctx, l)
	}
	return h.low.Enabled(ctx, l)
}

func (h splitHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		return h.high.Handle(ctx, r)
	}
	return h.low.Handle(ctx, r)
}

func (h splitHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return splitHandler{low: h.low.WithAttrs(as), high: h.high.WithAttrs(as)}
}

func (h splitHandler) WithGroup(name string) slog.Handler {
	return splitHandler{low: h.low.WithGroup(name), high: h.high.WithGroup(name)}
}
