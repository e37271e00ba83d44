package embedded

import (
	"context"
	"errors"
	"testing"

	"github.com/rostersync/rostersync/internal/state"
)

func TestBlobNamesStayInTheirFolder(t *testing.T) {
	b, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := context.Background()
	for _, name := range []string{"plan/../../escape", "plan/..", "../x", "/abs", "plan/./x", "a//b", ""} {
		if err := b.PutBlob(ctx, name, []byte("x")); err == nil {
			t.Errorf("PutBlob(%q) accepted a name that leaves or bends its folder", name)
		}
	}
	if err := b.PutBlob(ctx, "plan/abc.v1", []byte("body")); err != nil {
		t.Fatal(err)
	}
	if got, err := b.GetBlob(ctx, "plan/abc.v1"); err != nil || string(got) != "body" {
		t.Fatalf("GetBlob = %q, %v", got, err)
	}
	if _, err := b.GetBlob(ctx, "plan/missing"); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("GetBlob(missing) = %v, want ErrNotFound", err)
	}
	if err := b.DeleteBlob(ctx, "plan/abc.v1"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.GetBlob(ctx, "plan/abc.v1"); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("GetBlob after DeleteBlob = %v, want ErrNotFound", err)
	}
	if err := b.DeleteBlob(ctx, "plan/abc.v1"); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("second DeleteBlob = %v, want ErrNotFound", err)
	}
}
