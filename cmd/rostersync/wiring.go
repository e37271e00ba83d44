package main

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/rostersync/rostersync/handlers"
	"github.com/rostersync/rostersync/internal/config"
)

// newHostLogger is serve's logger: the Functions host records a custom
// handler's stdout lines as Information and its stderr lines as Error (or
// Warning when they say "warn"), so INFO and DEBUG go to stdout and WARN
// and ERROR to stderr, one line per record (handlers.NewLogHandler).
func newHostLogger(stdout, stderr io.Writer, getenv func(string) string) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(config.Lookup(getenv, config.LogLevel, "info"))); err != nil {
		return nil, fmt.Errorf("setting %s: %w", config.LogLevel, err)
	}
	return slog.New(handlers.NewLogHandler(stdout, stderr, &slog.HandlerOptions{Level: level})), nil
}

func newLogger(w io.Writer, getenv func(string) string) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(config.Lookup(getenv, config.LogLevel, "info"))); err != nil {
		return nil, fmt.Errorf("setting %s: %w", config.LogLevel, err)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level})), nil
}
