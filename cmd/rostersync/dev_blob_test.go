package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/rostersync/rostersync/internal/runs"
	"github.com/rostersync/rostersync/internal/state/blobstore/blobtest"
	"github.com/rostersync/rostersync/internal/tenant"
)

// TestDevSyncsABlobDrop: a MIS drops a OneRoster zip in the deployment's
// drop container under the customer's folder; a blob-sourced profile syncs
// it through `rostersync dev` with Blob Storage in Azurite, into the
// embedded simulator.
func TestDevSyncsABlobDrop(t *testing.T) {
	cs := blobtest.ConnectionString(t)
	a := blobtest.Account(t)
	ctx := context.Background()
	if err := a.EnsureContainer(ctx, tenant.DropContainer); err != nil {
		t.Fatal(err)
	}
	feed := t.TempDir()
	year := time.Now().Year()
	if time.Now().Month() < time.September {
		year--
	}
	var out, errOut bytes.Buffer
	if err := run(ctx, []string{"sample", "--out", feed, "--students", "30", "--staff", "3", "--year", strconv.Itoa(year)}, testEnv(&out, &errOut)); err != nil {
		t.Fatalf("sample: %v %s", err, errOut.String())
	}
	prefix := fmt.Sprintf("mis%d", time.Now().UnixNano())
	if err := a.Upload(ctx, tenant.DropContainer, "oakfield/"+prefix+"/drop.zip", zipFolder(t, feed)); err != nil {
		t.Fatal(err)
	}

	d, _ := startDev(t, t.TempDir(), map[string]string{"BlobsConnectionString": cs})
	d.do("PUT", "/api/customers/oakfield", `{"name":"Oakfield Academy","tenantId":"sim-oakfield","domains":["oakfield.example"],"features":{"users":true}}`, http.StatusOK)
	d.do("PUT", "/api/customers/oakfield/profiles/nightly", `{"name":"Nightly","enabled":true,"runAt":"02:00","timeZone":"Europe/London","entities":["users"],"source":{"kind":"blob","prefix":"`+prefix+`"}}`, http.StatusOK)
	var r runs.Run
	if err := json.Unmarshal(d.do("POST", "/api/customers/oakfield/profiles/nightly/runs", "", http.StatusAccepted), &r); err != nil {
		t.Fatal(err)
	}
	d.waitRun(r.ID, runs.StatusSucceeded)
	var p entityPlanView
	if err := json.Unmarshal(d.do("GET", "/api/customers/oakfield/runs/"+r.ID+"/entities/users/plan", "", http.StatusOK), &p); err != nil {
		t.Fatal(err)
	}
	if n := p.count("create", "done"); n < 30 || n != p.count("create", "") {
		t.Fatalf("blob-sourced run: %d of %d creates done, want every pupil and member of staff", n, p.count("create", ""))
	}
}

// zipFolder packs a feed folder as the MIS would upload it.
func zipFolder(t *testing.T, dir string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		w, err := zw.Create(e.Name())
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	})
	if err == nil {
		err = zw.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
