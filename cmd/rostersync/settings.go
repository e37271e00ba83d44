package main

import (
	"context"

	"github.com/rostersync/rostersync/internal/config"
)

func runSettings(ctx context.Context, args []string, env environment) error {
	b, err := config.ExampleFile()
	if err != nil {
		return err
	}
	_, err = env.stdout.Write(b)
	return err
}
