// Package blobstore is Azure Blob Storage for rostersync, through
// github.com/Azure/azure-sdk-for-go/sdk/storage/azblob: plan bodies
// (state.Blobs over one container) and the roster drops customers' MIS
// exports land in (read by reconcile.BlobSource). Tests run it against
// Azurite's blob service (scripts/azurite.sh).
//
// Service errors are mapped by their error code (bloberror), never by
// message text: a missing blob or container is state.ErrNotFound.
package blobstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"

	"github.com/rostersync/rostersync/internal/state"
)

// DevelopmentConnectionString is the full connection string of Azurite's
// well-known development account on its default blob port. The key is
// public (Azurite's README).
const DevelopmentConnectionString = "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;" +
	"AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;" +
	"BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;"

// containerName is Azure's rule for container names.
var containerName = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9]|-[a-z0-9]){2,62}$`)

// blobName keeps the names this package writes to plain relative paths,
// as the embedded store does: Azure would accept more, but a name with
// '..' or a trailing '/' means something else to other tools.
var blobName = regexp.MustCompile(`^[A-Za-z0-9_-]+(/[A-Za-z0-9_.-]+)*$`)

func plainName(name string) bool {
	if !blobName.MatchString(name) {
		return false
	}
	for seg := range strings.SplitSeq(name, "/") {
		if seg == "." || seg == ".." {
			return false
		}
	}
	return true
}

// Options configure an Account. The zero value is the default.
type Options struct {
	// Client configures the SDK client (retries, transport, logging); nil
	// uses the SDK's defaults.
	Client *azblob.ClientOptions
}

// Account is one storage account's blob service. It is safe for
// concurrent use.
type Account struct {
	c *azblob.Client

	mu      sync.Mutex
	created map[string]bool // containers this Account made sure exist
}

// FromConnectionString returns the Account of a storage connection string.
// "UseDevelopmentStorage=true", which azblob rejects, means Azurite's
// development account on 127.0.0.1:10000. At most one Options may be given.
func FromConnectionString(cs string, opts ...Options) (*Account, error) {
	o, err := oneOptions(opts)
	if err != nil {
		return nil, err
	}
	if isDevelopmentStorage(cs) {
		cs = DevelopmentConnectionString
	}
	c, err := azblob.NewClientFromConnectionString(cs, o.Client)
	if err != nil {
		// The SDK's message never contains the key; ours must not either.
		return nil, fmt.Errorf("blob storage connection string: %w", err)
	}
	return &Account{c: c, created: map[string]bool{}}, nil
}

// New returns the Account at a service URL such as
// https://<account>.blob.core.windows.net/, authenticated with cred (the
// managed identity in production). Plan bodies need the identity to hold
// Storage Blob Data Contributor (or Owner) on the account; reading drops,
// Storage Blob Data Reader on the drop container.
func New(serviceURL string, cred azcore.TokenCredential, opts ...Options) (*Account, error) {
	o, err := oneOptions(opts)
	if err != nil {
		return nil, err
	}
	c, err := azblob.NewClient(serviceURL, cred, o.Client)
	if err != nil {
		return nil, fmt.Errorf("blob storage client for %s: %w", serviceURL, err)
	}
	return &Account{c: c, created: map[string]bool{}}, nil
}

func oneOptions(opts []Options) (Options, error) {
	switch len(opts) {
	case 0:
		return Options{}, nil
	case 1:
		return opts[0], nil
	}
	return Options{}, fmt.Errorf("blobstore: got %d Options, want at most one", len(opts))
}

// isDevelopmentStorage reports whether cs is the shorthand
// "UseDevelopmentStorage=true" (keys are case-insensitive).
func isDevelopmentStorage(cs string) bool {
	for part := range strings.SplitSeq(cs, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), "UseDevelopmentStorage") && strings.EqualFold(strings.TrimSpace(v), "true") {
			return true
		}
	}
	return false
}

// EnsureContainer creates the container when it is missing. It asks the
// service once per container and Account.
func (a *Account) EnsureContainer(ctx context.Context, name string) error {
	if !containerName.MatchString(name) {
		return fmt.Errorf("container %q: want 3-63 lower-case letters, digits and single hyphens", name)
	}
	// Holding the lock across the request makes concurrent first uses wait
	// for one creation instead of racing; it happens once per container.
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.created[name] {
		return nil
	}
	if _, err := a.c.CreateContainer(ctx, name, nil); err != nil && !bloberror.HasCode(err, bloberror.ContainerAlreadyExists) {
		return fmt.Errorf("create container %s: %w", name, err)
	}
	a.created[name] = true
	return nil
}

// DeleteContainer deletes a container and everything in it; tests use it
// to clean up, nothing in the product deletes containers.
func (a *Account) DeleteContainer(ctx context.Context, name string) error {
	a.mu.Lock()
	delete(a.created, name)
	a.mu.Unlock()
	if _, err := a.c.DeleteContainer(ctx, name, nil); err != nil && !bloberror.HasCode(err, bloberror.ContainerNotFound) {
		return fmt.Errorf("delete container %s: %w", name, err)
	}
	return nil
}

// Upload writes a whole blob in one request (the SDK sends up to 256 MiB
// as one Put Blob), so readers see either the old value or the new one.
func (a *Account) Upload(ctx context.Context, container, name string, data []byte) error {
	if _, err := a.c.UploadBuffer(ctx, container, name, data, nil); err != nil {
		return fmt.Errorf("put blob %s/%s: %w", container, name, mapError(err))
	}
	return nil
}

// ListBlobs returns the name and last-modified time of every blob whose
// name starts with prefix. A missing container holds nothing.
func (a *Account) ListBlobs(ctx context.Context, container, prefix string) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	pager := a.c.NewListBlobsFlatPager(container, &azblob.ListBlobsFlatOptions{Prefix: &prefix})
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if bloberror.HasCode(err, bloberror.ContainerNotFound) {
			return map[string]time.Time{}, nil
		}
		if err != nil {
			return nil, fmt.Errorf("list blobs %s/%s*: %w", container, prefix, mapError(err))
		}
		if page.Segment == nil {
			continue
		}
		for _, b := range page.Segment.BlobItems {
			if b == nil || b.Name == nil {
				continue
			}
			var at time.Time
			if b.Properties != nil && b.Properties.LastModified != nil {
				at = *b.Properties.LastModified
			}
			out[*b.Name] = at
		}
	}
	return out, nil
}

// ErrTooLarge is returned by ReadBlob for a blob over its size limit,
// wrapped in an error whose TooLarge method says so to callers that cannot
// import this package (reconcile.DropStore).
var ErrTooLarge = errors.New("blob too large")

type tooLargeError struct{ err error }

func (e tooLargeError) Error() string  { return e.err.Error() }
func (e tooLargeError) Unwrap() error  { return e.err }
func (e tooLargeError) TooLarge() bool { return true }

// ReadBlob returns a blob's content, refusing (ErrTooLarge) one longer
// than limit bytes when limit > 0. A missing blob is state.ErrNotFound.
func (a *Account) ReadBlob(ctx context.Context, container, name string, limit int64) ([]byte, error) {
	resp, err := a.c.DownloadStream(ctx, container, name, nil)
	if err != nil {
		return nil, fmt.Errorf("get blob %s/%s: %w", container, name, mapError(err))
	}
	body := resp.Body
	defer body.Close()
	if limit > 0 && resp.ContentLength != nil && *resp.ContentLength > limit {
		return nil, tooLargeError{fmt.Errorf("get blob %s/%s: %d bytes, over the limit of %d: %w", container, name, *resp.ContentLength, limit, ErrTooLarge)}
	}
	var r io.Reader = body
	if limit > 0 {
		r = io.LimitReader(body, limit+1)
	}
	var buf bytes.Buffer
	if resp.ContentLength != nil && *resp.ContentLength > 0 {
		buf.Grow(int(*resp.ContentLength))
	}
	if _, err := buf.ReadFrom(r); err != nil {
		return nil, fmt.Errorf("get blob %s/%s: %w", container, name, err)
	}
	if limit > 0 && int64(buf.Len()) > limit {
		return nil, tooLargeError{fmt.Errorf("get blob %s/%s: over the limit of %d bytes: %w", container, name, limit, ErrTooLarge)}
	}
	return buf.Bytes(), nil
}

// mapError turns a missing blob or container into state.ErrNotFound; the
// SDK's error stays underneath.
func mapError(err error) error {
	if bloberror.HasCode(err, bloberror.BlobNotFound, bloberror.ContainerNotFound, bloberror.ResourceNotFound) {
		return fmt.Errorf("%w: %w", state.ErrNotFound, err)
	}
	return err
}

// Blobs is state.Blobs over one container of an Account, created on first
// use: plan bodies in production.
type Blobs struct {
	a         *Account
	container string
}

var _ state.Blobs = (*Blobs)(nil)

// Blobs returns the state.Blobs kept in container (state.BlobContainer in
// the product).
func (a *Account) Blobs(container string) (*Blobs, error) {
	if !containerName.MatchString(container) {
		return nil, fmt.Errorf("container %q: want 3-63 lower-case letters, digits and single hyphens", container)
	}
	return &Blobs{a: a, container: container}, nil
}

// PutBlob writes the value whole (one Put Blob request), so a crash leaves
// either no blob or all of it. Putting a name again replaces it; plan
// bodies are content-addressed, so a second put writes the same bytes.
func (b *Blobs) PutBlob(ctx context.Context, name string, data []byte) error {
	if !plainName(name) {
		return fmt.Errorf("put blob %q: not a plain relative name", name)
	}
	if err := b.a.EnsureContainer(ctx, b.container); err != nil {
		return fmt.Errorf("put blob %s: %w", name, err)
	}
	return b.a.Upload(ctx, b.container, name, data)
}

// GetBlob returns state.ErrNotFound for a blob never put (its container
// may not exist yet either).
func (b *Blobs) GetBlob(ctx context.Context, name string) ([]byte, error) {
	if !plainName(name) {
		return nil, fmt.Errorf("get blob %q: not a plain relative name", name)
	}
	return b.a.ReadBlob(ctx, b.container, name, 0)
}

var _ state.BlobDeleter = (*Blobs)(nil)

// DeleteBlob removes a blob; a missing one is state.ErrNotFound. Purges use
// it, so plan bodies (which hold pupils' names) go with their retention.
func (b *Blobs) DeleteBlob(ctx context.Context, name string) error {
	if !plainName(name) {
		return fmt.Errorf("delete blob %q: not a plain relative name", name)
	}
	if _, err := b.a.c.DeleteBlob(ctx, b.container, name, nil); err != nil {
		return fmt.Errorf("delete blob %s/%s: %w", b.container, name, mapError(err))
	}
	return nil
}
