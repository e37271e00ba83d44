package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/rostersync/rostersync/handlers"
	"github.com/rostersync/rostersync/internal/app"
	"github.com/rostersync/rostersync/internal/state"
	"github.com/rostersync/rostersync/internal/state/embedded"
)

// runLinks prints an entity's links (sourcedId → tenant object) kept in a
// local state folder (sync's --state, dev's state folder), sorted by
// sourcedId, as the same objects the API's links route answers.
func runLinks(ctx context.Context, args []string, env environment) error {
	fs := flag.NewFlagSet("links", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	dir := fs.String("state", "", "the state folder given to sync or dev (required)")
	entity := fs.String("entity", "", "entity kind (required; registered: "+strings.Join(app.EntityNames(), ", ")+")")
	customer := fs.String("customer", syncCustomer, "customer id (sync keeps one, "+syncCustomer+")")
	asJSON := fs.Bool("json", false, "print a JSON array of {entity, sourcedId, objectId, how}")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	if *dir == "" || *entity == "" || fs.NArg() > 0 {
		fs.Usage()
		return usageError{"usage: rostersync links --state DIR --entity E [--customer ID] [--json]"}
	}
	kind, ok := app.LookupEntity(*entity)
	if !ok {
		return usageError{fmt.Sprintf("--entity: %q is not a registered entity (registered: %s)", *entity, strings.Join(app.EntityNames(), ", "))}
	}
	storePath := filepath.Join(*dir, storeDir)
	if _, err := os.Stat(storePath); err != nil {
		return fmt.Errorf("no store in the state folder %s: %w", *dir, err)
	}
	backend, err := embedded.Open(storePath)
	if err != nil {
		return err
	}
	defer backend.Close()
	var ms []state.Mapping
	if kind.LinkKind != "" {
		if ms, err = state.NewStore(backend, nil).ListMappings(ctx, *customer, kind.LinkKind); err != nil {
			return err
		}
	}
	links := handlers.Links(kind.Name, ms)
	if *asJSON {
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(links)
	}
	tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCEDID\tOBJECTID\tHOW")
	for _, l := range links {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", l.SourcedID, l.ObjectID, l.How)
	}
	return tw.Flush()
}
