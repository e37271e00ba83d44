package embedded

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/rostersync/rostersync/internal/state"
)

var _ state.Blobs = (*Backend)(nil)

// blobName keeps blob names to plain relative paths: segments of letters,
// digits, '_', '-' and '.', none of them "." or "..".
var blobName = regexp.MustCompile(`^[A-Za-z0-9_-]+(/[A-Za-z0-9_.-]+)*$`)

func validBlobName(name string) bool {
	if !blobName.MatchString(name) {
		return false
	}
	for _, seg := range strings.Split(name, "/") {
		if seg == "." || seg == ".." {
			return false
		}
	}
	return true
}

// PutBlob stores a write-once value in a file of its own (blobs/NAME),
// through a temporary file and a rename, so a crash leaves either no blob
// or the whole of it; in memory without a folder.
func (b *Backend) PutBlob(ctx context.Context, name string, data []byte) error {
	if !validBlobName(name) {
		return fmt.Errorf("put blob %q: not a plain relative name", name)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return fmt.Errorf("put blob %s: backend closed", name)
	}
	if b.dir == "" {
		if b.blobs == nil {
			b.blobs = map[string][]byte{}
		}
		b.blobs[name] = append([]byte(nil), data...)
		return nil
	}
	path := filepath.Join(b.dir, "blobs", filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("put blob %s: %w", name, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return fmt.Errorf("put blob %s: %w", name, err)
	}
	_, werr := tmp.Write(data)
	if werr == nil {
		werr = tmp.Sync()
	}
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), path)
	}
	if werr != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("put blob %s: %w", name, werr)
	}
	return nil
}

// GetBlob returns state.ErrNotFound for a blob never (wholly) put.
func (b *Backend) GetBlob(ctx context.Context, name string) ([]byte, error) {
	if !validBlobName(name) {
		return nil, fmt.Errorf("get blob %q: not a plain relative name", name)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.dir == "" {
		data, ok := b.blobs[name]
		if !ok {
			return nil, fmt.Errorf("get blob %s: %w", name, state.ErrNotFound)
		}
		return append([]byte(nil), data...), nil
	}
	data, err := os.ReadFile(filepath.Join(b.dir, "blobs", filepath.FromSlash(name)))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("get blob %s: %w", name, state.ErrNotFound)
	}
	return data, err
}

var _ state.BlobDeleter = (*Backend)(nil)

// DeleteBlob removes a blob; a missing one is state.ErrNotFound. Purges use
// it, so plan bodies (which hold pupils' names) go with their retention.
func (b *Backend) DeleteBlob(ctx context.Context, name string) error {
	if !validBlobName(name) {
		return fmt.Errorf("delete blob %q: not a plain relative name", name)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.dir == "" {
		if _, ok := b.blobs[name]; !ok {
			return fmt.Errorf("delete blob %s: %w", name, state.ErrNotFound)
		}
		delete(b.blobs, name)
		return nil
	}
	err := os.Remove(filepath.Join(b.dir, "blobs", filepath.FromSlash(name)))
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("delete blob %s: %w", name, state.ErrNotFound)
	}
	return err
}
