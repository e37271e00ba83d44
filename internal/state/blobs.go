package state

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Blobs holds large write-once values by name: plan bodies today. A
// Backend that implements it (a Blob Storage container, a folder) is used
// as it is; any other keeps blobs in the blobs table, cut into rows.
type Blobs interface {
	PutBlob(ctx context.Context, name string, data []byte) error
	// GetBlob returns ErrNotFound for a name never put (or not put whole).
	GetBlob(ctx context.Context, name string) ([]byte, error)
}

// BlobContainer is the Blob Storage container plan bodies are kept in
// when the store has Blob Storage (internal/state/blobstore); infra creates
// it, and internal/infracheck keeps the two names equal.
const BlobContainer = "plans"

// WithBlobs returns b with its blobs kept in blobs instead: Table Storage
// for the tables and Blob Storage for plan bodies, in production. The
// result is a Backend, so every Store made over it (NewStore) uses blobs.
func WithBlobs(b Backend, blobs Blobs) Backend {
	if blobs == nil {
		return b
	}
	return backendWithBlobs{Backend: b, blobs: blobs}
}

type backendWithBlobs struct {
	Backend
	blobs Blobs
}

func (b backendWithBlobs) PutBlob(ctx context.Context, name string, data []byte) error {
	return b.blobs.PutBlob(ctx, name, data)
}

func (b backendWithBlobs) GetBlob(ctx context.Context, name string) ([]byte, error) {
	return b.blobs.GetBlob(ctx, name)
}

// NewStoreWithBlobs is NewStore(WithBlobs(b, blobs), now).
func NewStoreWithBlobs(b Backend, blobs Blobs, now func() time.Time) *Store {
	return NewStore(WithBlobs(b, blobs), now)
}

// Row layout of table blobs: one partition per blob, rows "000000",
// "000001", … each holding up to blobPropsPerRow properties of at most
// blobPropChars base64 characters, and the blob's length on every row, so
// a reader can tell a whole blob from a torn one.
const (
	blobPropChars   = 30000
	blobPropsPerRow = 24
	propBlobSize    = "Size"
)

type tableBlobs struct{ s *Store }

func (b tableBlobs) PutBlob(ctx context.Context, name string, data []byte) error {
	t, err := b.s.table(ctx, TableBlobs)
	if err != nil {
		return err
	}
	enc := base64.StdEncoding.EncodeToString(data)
	size := strconv.Itoa(len(data))
	perRow := blobPropChars * blobPropsPerRow
	for row, off := 0, 0; off < len(enc) || row == 0; row++ {
		e := Entity{PartitionKey: EncodeKey(name), RowKey: fmt.Sprintf("%06d", row), Props: map[string]string{propBlobSize: size}}
		end := min(off+perRow, len(enc))
		for i, p := 0, off; p < end; i, p = i+1, p+blobPropChars {
			e.Props[fmt.Sprintf("D%02d", i)] = enc[p:min(p+blobPropChars, end)]
		}
		if _, err := t.Upsert(ctx, e); err != nil {
			return fmt.Errorf("put blob %s (row %d): %w", name, row, err)
		}
		off = end
	}
	return nil
}

func (b tableBlobs) GetBlob(ctx context.Context, name string) ([]byte, error) {
	t, err := b.s.table(ctx, TableBlobs)
	if err != nil {
		return nil, err
	}
	rows, err := t.List(ctx, Query{PartitionKey: EncodeKey(name)})
	if err != nil {
		return nil, fmt.Errorf("get blob %s: %w", name, err)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("get blob %s: %w", name, ErrNotFound)
	}
	var enc strings.Builder
	for _, r := range rows {
		for i := 0; ; i++ {
			part, ok := r.Props[fmt.Sprintf("D%02d", i)]
			if !ok {
				break
			}
			enc.WriteString(part)
		}
	}
	data, err := base64.StdEncoding.DecodeString(enc.String())
	if err != nil {
		return nil, fmt.Errorf("get blob %s: %w", name, err)
	}
	if want := rows[0].Props[propBlobSize]; strconv.Itoa(len(data)) != want {
		return nil, fmt.Errorf("get blob %s: %d bytes of %s: %w", name, len(data), want, ErrNotFound)
	}
	return data, nil
}
