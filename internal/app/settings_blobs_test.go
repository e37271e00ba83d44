package app

import (
	"testing"

	"github.com/rostersync/rostersync/internal/config"
	"github.com/rostersync/rostersync/internal/state"
	"github.com/rostersync/rostersync/internal/state/blobstore"
	"github.com/rostersync/rostersync/internal/state/tablestore"
)

// TestOpenBackendPlanBodies: with Table Storage, plan bodies go to Blob
// Storage when a blob setting is there (production's arrangement), to the
// blobs table otherwise; the embedded store keeps its own.
func TestOpenBackendPlanBodies(t *testing.T) {
	tests := []struct {
		name      string
		settings  map[string]string
		wantBlobs bool // the backend brings its own state.Blobs
	}{
		{"tables and blobs", map[string]string{config.TablesConnection: tablestore.DevelopmentConnectionString, config.BlobsConnection: blobstore.DevelopmentConnectionString}, true},
		{"tables and a blob endpoint", map[string]string{config.TablesConnection: tablestore.DevelopmentConnectionString, config.BlobsEndpoint: "https://acct.blob.core.windows.net/"}, true},
		{"tables alone", map[string]string{config.TablesConnection: tablestore.DevelopmentConnectionString}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, desc, closeBackend, err := OpenBackend(func(k string) string { return tt.settings[k] }, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			defer closeBackend()
			if _, ok := b.(state.Blobs); ok != tt.wantBlobs {
				t.Errorf("OpenBackend (%s) keeps its own blobs = %v, want %v", desc, ok, tt.wantBlobs)
			}
		})
	}
	if _, _, err := OpenBlobs(func(k string) string {
		return map[string]string{config.BlobsConnection: "not a connection string"}[k]
	}); err == nil {
		t.Error("OpenBlobs accepted a broken connection string")
	}
	if a, _, err := OpenBlobs(func(string) string { return "" }); a != nil || err != nil {
		t.Errorf("OpenBlobs without settings = %v, %v; want nothing", a, err)
	}
}
