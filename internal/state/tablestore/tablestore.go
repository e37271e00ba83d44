// Package tablestore is a state.Backend on Azure Table Storage, through
// github.com/Azure/azure-sdk-for-go/sdk/data/aztables. Tests run it against
// Azurite (scripts/azurite.sh).
//
// Every write is checked with state.ValidateEntity or
// state.ValidateTransaction before it is sent. Azure would refuse most of
// what those catch anyway, but Azurite does not (it accepts transactions
// over two partitions, and answers 101-operation ones with a response the
// SDK cannot parse), and failing before the request gives the same error
// everywhere.
//
// Service errors are mapped to the state sentinels by their error code
// (azcore.ResponseError.ErrorCode, or the code inside a failed
// transaction's multipart response), never by message text. The mapped
// error still unwraps to the *azcore.ResponseError.
//
// Properties are stored as Edm.String. Entities written by other tools may
// hold other types; they are read back as their JSON text, and the
// service's own fields (odata.*, *@odata.type, Timestamp) are not props.
//
// Retries: the SDK's default retry policy retries timeouts and 5xx. A write
// that succeeded but whose answer was lost is retried by the SDK, and the
// retry can then fail: an Insert with ErrExists, an Update or Delete with
// ErrConflict (the ETag moved on). Callers doing read-modify-write already
// handle both by re-reading.
package tablestore

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/rostersync/rostersync/internal/state"
)

// DevelopmentConnectionString is the full connection string of Azurite's
// well-known development account on its default table port. The key is
// public (Azurite's README).
const DevelopmentConnectionString = "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;" +
	"AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;" +
	"TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;"

// tableName is Azure's rule for table names; a prefix must be a valid start
// of one.
var (
	tableName   = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]{2,62}$`)
	tablePrefix = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]{0,61}$`)
)

// Options configure a Backend. The zero value is the default.
type Options struct {
	// TablePrefix is put before every table name, so that several
	// installations or test runs can share one storage account. Table names
	// are alphanumeric, so the prefix must be too (and start with a letter).
	TablePrefix string
	// Client configures the SDK client (retries, transport, logging);
	// nil uses the SDK's defaults.
	Client *aztables.ClientOptions
}

// Backend is a state.Backend on one storage account. It is safe for
// concurrent use.
type Backend struct {
	svc    *aztables.ServiceClient
	prefix string

	mu     sync.Mutex
	tables map[string]*table // by lower-cased full name: Azure names are case-insensitive
}

var _ state.Backend = (*Backend)(nil)

// FromConnectionString returns a Backend for a storage connection string.
// "UseDevelopmentStorage=true", which aztables rejects, means Azurite's
// development account on 127.0.0.1:10002. At most one Options may be given.
func FromConnectionString(cs string, opts ...Options) (*Backend, error) {
	o, err := oneOptions(opts)
	if err != nil {
		return nil, err
	}
	if isDevelopmentStorage(cs) {
		cs = DevelopmentConnectionString
	}
	svc, err := aztables.NewServiceClientFromConnectionString(cs, o.Client)
	if err != nil {
		// The SDK's message never contains the key; ours must not either.
		return nil, fmt.Errorf("table storage connection string: %w", err)
	}
	return newBackend(svc, o)
}

// New returns a Backend for a service URL such as
// https://<account>.table.core.windows.net/, authenticated with cred (a
// managed identity in production). The identity needs the role Storage
// Table Data Contributor.
func New(serviceURL string, cred azcore.TokenCredential, opts ...Options) (*Backend, error) {
	o, err := oneOptions(opts)
	if err != nil {
		return nil, err
	}
	svc, err := aztables.NewServiceClient(serviceURL, cred, o.Client)
	if err != nil {
		return nil, fmt.Errorf("table storage client for %s: %w", serviceURL, err)
	}
	return newBackend(svc, o)
}

func oneOptions(opts []Options) (Options, error) {
	switch len(opts) {
	case 0:
		return Options{}, nil
	case 1:
		return opts[0], nil
	}
	return Options{}, fmt.Errorf("tablestore: got %d Options, want at most one", len(opts))
}

func newBackend(svc *aztables.ServiceClient, o Options) (*Backend, error) {
	if o.TablePrefix != "" && !tablePrefix.MatchString(o.TablePrefix) {
		return nil, fmt.Errorf("table prefix %q: want a letter then letters or digits", o.TablePrefix)
	}
	return &Backend{svc: svc, prefix: o.TablePrefix, tables: map[string]*table{}}, nil
}

// isDevelopmentStorage reports whether cs is the shorthand
// "UseDevelopmentStorage=true" (keys are case-insensitive, as in the other
// Azure SDKs).
func isDevelopmentStorage(cs string) bool {
	for part := range strings.SplitSeq(cs, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), "UseDevelopmentStorage") && strings.EqualFold(strings.TrimSpace(v), "true") {
			return true
		}
	}
	return false
}

// Table returns the named table (with the backend's prefix), creating it
// when missing. Clients are cached, so the table is created at most once
// per Backend.
func (b *Backend) Table(ctx context.Context, name string) (state.Table, error) {
	// The name is checked on its own as well as with the prefix, so that a
	// name is valid or not whatever the prefix (tests run with one,
	// production need not).
	full := b.prefix + name
	if !tableName.MatchString(name) || !tableName.MatchString(full) {
		return nil, fmt.Errorf("open table %q: want a letter then 2 to 62 letters or digits", full)
	}
	if strings.EqualFold(name, "tables") {
		return nil, fmt.Errorf("open table %q: the name is reserved by Table Storage", name)
	}
	key := strings.ToLower(full)
	// Holding the lock across CreateTable makes concurrent first uses of a
	// table wait for one creation instead of racing; it happens once per
	// table and process.
	b.mu.Lock()
	defer b.mu.Unlock()
	if t, ok := b.tables[key]; ok {
		return t, nil
	}
	if _, err := b.svc.CreateTable(ctx, full, nil); err != nil && !hasCode(err, aztables.TableAlreadyExists) {
		return nil, fmt.Errorf("create table %s: %w", full, mapError(err, nil))
	}
	t := &table{name: full, c: b.svc.NewClient(full)}
	b.tables[key] = t
	return t, nil
}

// DeleteTables deletes every table this Backend opened. Tests use it to
// clean up; nothing in the product deletes tables.
func (b *Backend) DeleteTables(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	var errs []error
	for key, t := range b.tables {
		if _, err := b.svc.DeleteTable(ctx, t.name, nil); err != nil && !hasCode(err, aztables.TableNotFound, aztables.ResourceNotFound) {
			errs = append(errs, fmt.Errorf("delete table %s: %w", t.name, mapError(err, nil)))
			continue
		}
		delete(b.tables, key)
	}
	return errors.Join(errs...)
}

type table struct {
	name string
	c    *aztables.Client
}

var _ state.Table = (*table)(nil)

func (t *table) Get(ctx context.Context, pk, rk string) (state.Entity, error) {
	if err := state.ValidateKeys(pk, rk); err != nil {
		return state.Entity{}, fmt.Errorf("get %s/%s from %s: %w", pk, rk, t.name, err)
	}
	resp, err := t.c.GetEntity(ctx, pk, rk, nil)
	if err != nil {
		return state.Entity{}, fmt.Errorf("get %s/%s from %s: %w", pk, rk, t.name, mapError(err, nil))
	}
	e, err := decodeEntity(resp.Value)
	if err != nil {
		return state.Entity{}, fmt.Errorf("get %s/%s from %s: %w", pk, rk, t.name, err)
	}
	e.ETag = string(resp.ETag)
	return e, nil
}

func (t *table) Insert(ctx context.Context, e state.Entity) (state.Entity, error) {
	what := fmt.Sprintf("insert %s/%s into %s", e.PartitionKey, e.RowKey, t.name)
	body, err := encodeOp(state.Op{Kind: state.OpInsert, Entity: e})
	if err != nil {
		return state.Entity{}, fmt.Errorf("%s: %w", what, err)
	}
	resp, err := t.c.AddEntity(ctx, body, nil)
	if err != nil {
		return state.Entity{}, fmt.Errorf("%s: %w", what, mapError(err, nil))
	}
	out := written(e, resp.ETag)
	// The service returns the stored entity, Timestamp included.
	if stored, err := decodeEntity(resp.Value); err == nil && !stored.Timestamp.IsZero() {
		out.Timestamp = stored.Timestamp
	}
	return out, nil
}

func (t *table) Update(ctx context.Context, e state.Entity) (state.Entity, error) {
	what := fmt.Sprintf("update %s/%s in %s", e.PartitionKey, e.RowKey, t.name)
	body, err := encodeOp(state.Op{Kind: state.OpUpdate, Entity: e})
	if err != nil {
		return state.Entity{}, fmt.Errorf("%s: %w", what, err)
	}
	etag := azcore.ETag(e.ETag)
	resp, err := t.c.UpdateEntity(ctx, body, &aztables.UpdateEntityOptions{IfMatch: &etag, UpdateMode: aztables.UpdateModeReplace})
	if err != nil {
		return state.Entity{}, fmt.Errorf("%s: %w", what, mapError(err, nil))
	}
	return written(e, resp.ETag), nil
}

func (t *table) Upsert(ctx context.Context, e state.Entity) (state.Entity, error) {
	what := fmt.Sprintf("upsert %s/%s in %s", e.PartitionKey, e.RowKey, t.name)
	body, err := encodeOp(state.Op{Kind: state.OpUpsert, Entity: e})
	if err != nil {
		return state.Entity{}, fmt.Errorf("%s: %w", what, err)
	}
	// Replace, not the SDK's default Merge: an upsert must drop properties
	// the new value does not have, as the embedded backend does.
	resp, err := t.c.UpsertEntity(ctx, body, &aztables.UpsertEntityOptions{UpdateMode: aztables.UpdateModeReplace})
	if err != nil {
		return state.Entity{}, fmt.Errorf("%s: %w", what, mapError(err, nil))
	}
	return written(e, resp.ETag), nil
}

func (t *table) Delete(ctx context.Context, pk, rk, etag string) error {
	what := fmt.Sprintf("delete %s/%s from %s", pk, rk, t.name)
	e := state.Entity{PartitionKey: pk, RowKey: rk, ETag: etag}
	if err := state.ValidateOp(state.Op{Kind: state.OpDelete, Entity: e}); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	tag := azcore.ETag(etag)
	if _, err := t.c.DeleteEntity(ctx, pk, rk, &aztables.DeleteEntityOptions{IfMatch: &tag}); err != nil {
		return fmt.Errorf("%s: %w", what, mapError(err, nil))
	}
	return nil
}

func (t *table) List(ctx context.Context, q state.Query) ([]state.Entity, error) {
	what := fmt.Sprintf("list %s", t.name)
	if err := state.ValidateQuery(q); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	opts := &aztables.ListEntitiesOptions{}
	if f := filter(q); f != "" {
		opts.Filter = &f
	}
	if q.Limit > 0 {
		// Top is the page size, not a total; the loop below stops at Limit.
		top := int32(min(q.Limit, 1000))
		opts.Top = &top
	}
	var out []state.Entity
	pager := t.c.NewListEntitiesPager(opts)
	for pager.More() && (q.Limit == 0 || len(out) < q.Limit) {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, mapError(err, nil))
		}
		for _, raw := range page.Entities {
			e, err := decodeEntity(raw)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", what, err)
			}
			// The filter already did this; checking again keeps the
			// contract even where the service compares strings in a way
			// that differs from Go for some non-ASCII prefix.
			if !strings.HasPrefix(e.RowKey, q.RowKeyPrefix) || (q.RowKeyAfter != "" && e.RowKey <= q.RowKeyAfter) {
				continue
			}
			out = append(out, e)
		}
	}
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit]
	}
	// The service returns (PartitionKey, RowKey) order already; the sort is
	// a cheap guarantee that both backends order alike.
	slices.SortStableFunc(out, func(a, b state.Entity) int {
		if c := strings.Compare(a.PartitionKey, b.PartitionKey); c != 0 {
			return c
		}
		return strings.Compare(a.RowKey, b.RowKey)
	})
	return out, nil
}

// filter builds the OData filter of q: an exact PartitionKey, a RowKey
// range [prefix, successor(prefix)) and, for a continuation, RowKey >
// RowKeyAfter.
func filter(q state.Query) string {
	var parts []string
	if q.PartitionKey != "" {
		parts = append(parts, "PartitionKey eq "+quote(q.PartitionKey))
	}
	if q.RowKeyPrefix != "" {
		parts = append(parts, "RowKey ge "+quote(q.RowKeyPrefix))
		if end, ok := prefixEnd(q.RowKeyPrefix); ok {
			parts = append(parts, "RowKey lt "+quote(end))
		}
	}
	if q.RowKeyAfter != "" {
		parts = append(parts, "RowKey gt "+quote(q.RowKeyAfter))
	}
	return strings.Join(parts, " and ")
}

// quote makes an OData string literal: single quotes, doubled inside.
func quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// prefixEnd returns the smallest string greater than every string that
// starts with p, or false when there is none (p is all U+10FFFF).
func prefixEnd(p string) (string, bool) {
	r := []rune(p)
	for i := len(r) - 1; i >= 0; i-- {
		if r[i] == utf8.MaxRune {
			continue
		}
		next := r[i] + 1
		if next >= 0xD800 && next <= 0xDFFF { // surrogates are not characters
			next = 0xE000
		}
		return string(r[:i]) + string(next), true
	}
	return "", false
}

func (t *table) Transact(ctx context.Context, ops []state.Op) error {
	what := fmt.Sprintf("transaction of %d operations on %s", len(ops), t.name)
	if len(ops) > 0 {
		what += " partition " + ops[0].Entity.PartitionKey
	}
	if err := state.ValidateTransaction(ops); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	actions := make([]aztables.TransactionAction, len(ops))
	for i, op := range ops {
		body, err := encodeOp(op)
		if err != nil {
			return fmt.Errorf("%s: operation %d: %w", what, i, err)
		}
		a := aztables.TransactionAction{Entity: body}
		switch op.Kind {
		case state.OpInsert:
			a.ActionType = aztables.TransactionTypeAdd
		case state.OpUpsert:
			a.ActionType = aztables.TransactionTypeInsertReplace
		case state.OpUpdate:
			a.ActionType = aztables.TransactionTypeUpdateReplace
		case state.OpDelete:
			a.ActionType = aztables.TransactionTypeDelete
		}
		if op.Kind == state.OpUpdate || op.Kind == state.OpDelete {
			etag := azcore.ETag(op.Entity.ETag)
			a.IfMatch = &etag
		}
		actions[i] = a
	}
	if _, err := t.c.SubmitTransaction(ctx, actions, nil); err != nil {
		return fmt.Errorf("%s: %w", what, mapError(err, ops))
	}
	return nil
}

// --- validation and encoding

// validateOp checks one operation before it is sent. An Update or Delete
// must say which version it expects: an empty ETag is refused, because
// aztables would send no If-Match at all, which turns an update into an
// upsert.

// encodeOp validates op and returns the entity as the JSON aztables sends:
// the keys plus every property as a string.
func encodeOp(op state.Op) ([]byte, error) {
	if err := state.ValidateOp(op); err != nil {
		return nil, err
	}
	m := make(map[string]any, len(op.Entity.Props)+2)
	for k, v := range op.Entity.Props {
		m[k] = v
	}
	m["PartitionKey"] = op.Entity.PartitionKey
	m["RowKey"] = op.Entity.RowKey
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode entity: %w", err)
	}
	return b, nil
}

// decodeEntity reads an entity as the service returns it (JSON, minimal
// metadata).
func decodeEntity(raw []byte) (state.Entity, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return state.Entity{}, fmt.Errorf("decode entity: %w", err)
	}
	e := state.Entity{Props: make(map[string]string, len(m))}
	for k, v := range m {
		switch {
		case k == "PartitionKey":
			e.PartitionKey, _ = v.(string)
		case k == "RowKey":
			e.RowKey, _ = v.(string)
		case k == "Timestamp":
			if s, ok := v.(string); ok {
				e.Timestamp, _ = time.Parse(time.RFC3339Nano, s)
			}
		case k == "odata.etag":
			e.ETag, _ = v.(string)
		case strings.HasPrefix(k, "odata.") || strings.Contains(k, "@odata."):
			// Service metadata, not data.
		default:
			e.Props[k] = propString(v)
		}
	}
	return e, nil
}

// propString renders a property value. Ours are all strings; numbers and
// booleans written by other tools keep their JSON text.
func propString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	case nil:
		return ""
	default:
		b, _ := json.Marshal(v)
		return string(b)
	}
}

// written is what a successful write returns: the entity as sent, a copy of
// its props, the new ETag and, where the ETag carries it, the time of the
// write.
func written(e state.Entity, etag azcore.ETag) state.Entity {
	props := make(map[string]string, len(e.Props))
	for k, v := range e.Props {
		props[k] = v
	}
	return state.Entity{PartitionKey: e.PartitionKey, RowKey: e.RowKey, ETag: string(etag), Timestamp: etagTime(etag), Props: props}
}

// etagTime reads the write time out of an ETag such as
// W/"datetime'2026-01-02T03%3A04%3A05.1234567Z'". The format is the
// service's, not a contract, so a mismatch just leaves the time zero.
func etagTime(etag azcore.ETag) time.Time {
	s := string(etag)
	i := strings.Index(s, "datetime'")
	if i < 0 {
		return time.Time{}
	}
	s = s[i+len("datetime'"):]
	j := strings.IndexByte(s, '\'')
	if j < 0 {
		return time.Time{}
	}
	s, err := url.QueryUnescape(s[:j])
	if err != nil {
		return time.Time{}
	}
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

// --- errors

// sentinels maps the service's error codes to the state sentinels.
var sentinels = map[aztables.TableErrorCode]error{
	aztables.EntityAlreadyExists:         state.ErrExists,
	aztables.UpdateConditionNotSatisfied: state.ErrConflict,
	aztables.ResourceNotFound:            state.ErrNotFound,
	aztables.EntityNotFound:              state.ErrNotFound,
	aztables.TableNotFound:               state.ErrNotFound,
	aztables.EntityTooLarge:              state.ErrTooLarge,
	aztables.PropertyValueTooLarge:       state.ErrTooLarge,
	aztables.TooManyProperties:           state.ErrTooLarge,
	aztables.InvalidDuplicateRow:         state.ErrBadTransaction,
	// Not in aztables' list; Azure's code for a two-partition batch.
	"CommandsInBatchActOnDifferentPartitions": state.ErrBadTransaction,
}

// ServiceError is a failed request to Table Storage. It unwraps to the
// state sentinel its code maps to (if any) and to the SDK's
// *azcore.ResponseError, and prints the service's code instead of the
// SDK's multi-line dump of the whole response.
type ServiceError struct {
	// Code is the service's error code, e.g. "EntityAlreadyExists".
	Code string
	// StatusCode is the HTTP status of the failed request or, in a
	// transaction, of the failed operation.
	StatusCode int
	// Op is the index of the operation that failed a transaction, or -1.
	Op       int
	sentinel error
	err      error
}

func (e *ServiceError) Error() string {
	var b strings.Builder
	if e.sentinel != nil {
		b.WriteString(e.sentinel.Error())
		b.WriteString(" (")
	} else {
		b.WriteString("table storage error (")
	}
	if e.Code != "" {
		b.WriteString(e.Code + ", ")
	}
	fmt.Fprintf(&b, "HTTP %d", e.StatusCode)
	if e.Op >= 0 {
		fmt.Fprintf(&b, ", operation %d", e.Op)
	}
	b.WriteString(")")
	return b.String()
}

// Transient reports whether the failure passes by itself: the service was
// busy, timed out or broke (5xx, 408, 429). The runner retries those on
// its own schedule instead of burning Service Bus deliveries.
func (e *ServiceError) Transient() bool {
	return e.StatusCode >= 500 || e.StatusCode == http.StatusRequestTimeout || e.StatusCode == http.StatusTooManyRequests
}

func (e *ServiceError) Unwrap() []error {
	if e.sentinel == nil {
		return []error{e.err}
	}
	return []error{e.sentinel, e.err}
}

// mapError turns an SDK error into a *ServiceError carrying the matching
// state sentinel. ops are the operations of a transaction, nil otherwise.
// Errors that are not service responses (context, network) pass through.
func mapError(err error, ops []state.Op) error {
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		return err
	}
	se := &ServiceError{Code: re.ErrorCode, StatusCode: re.StatusCode, Op: -1, err: err}
	// A failed transaction comes back as 202 Accepted whose multipart body
	// holds the failing operation's own status and error.
	if re.StatusCode == http.StatusAccepted && re.RawResponse != nil {
		if body, perr := runtime.Payload(re.RawResponse); perr == nil {
			if f, ok := batchFailure(re.RawResponse.Header.Get("Content-Type"), body); ok {
				se.Code, se.StatusCode, se.Op = f.code, f.status, f.op
				if se.Op >= len(ops) {
					se.Op = -1
				}
			}
		}
	}
	se.sentinel = sentinels[aztables.TableErrorCode(se.Code)]
	if se.sentinel == nil && se.StatusCode == http.StatusNotFound {
		se.sentinel = state.ErrNotFound
	}
	return se
}

func hasCode(err error, codes ...aztables.TableErrorCode) bool {
	var re *azcore.ResponseError
	return errors.As(err, &re) && slices.Contains(codes, aztables.TableErrorCode(re.ErrorCode))
}

type opFailure struct {
	op     int
	status int
	code   string
}

// batchFailure finds the failed operation in a transaction response:
// multipart/mixed (batch) holding multipart/mixed (changeset) holding
// application/http responses. The error message of the failed operation
// starts with its index and a colon ("1:The specified entity already
// exists."), which is how Azure says which operation failed.
func batchFailure(contentType string, body []byte) (opFailure, bool) {
	outer, ok := boundary(contentType, body)
	if !ok {
		return opFailure{}, false
	}
	batch := multipart.NewReader(bytes.NewReader(body), outer)
	for {
		part, err := batch.NextPart()
		if err != nil {
			return opFailure{}, false
		}
		_, params, err := mime.ParseMediaType(part.Header.Get("Content-Type"))
		if err != nil || params["boundary"] == "" {
			continue
		}
		changeset := multipart.NewReader(part, params["boundary"])
		for {
			p, err := changeset.NextPart()
			if err != nil {
				break
			}
			resp, err := http.ReadResponse(bufio.NewReader(p), nil)
			if err != nil {
				return opFailure{}, false
			}
			if resp.StatusCode < 400 {
				resp.Body.Close()
				continue
			}
			data, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var e struct {
				Err struct {
					Code    string `json:"code"`
					Message struct {
						Value string `json:"value"`
					} `json:"message"`
				} `json:"odata.error"`
			}
			_ = json.Unmarshal(data, &e)
			f := opFailure{op: -1, status: resp.StatusCode, code: e.Err.Code}
			if i, _, ok := strings.Cut(e.Err.Message.Value, ":"); ok {
				if n, err := strconv.Atoi(i); err == nil && n >= 0 {
					f.op = n
				}
			}
			return f, true
		}
	}
}

// boundary returns the multipart boundary of the response, from its
// Content-Type or else, as the SDK does, from the body's first line
// ("--batchresponse_...").
func boundary(contentType string, body []byte) (string, bool) {
	if _, params, err := mime.ParseMediaType(contentType); err == nil && params["boundary"] != "" {
		return params["boundary"], true
	}
	line, _, _ := bytes.Cut(body, []byte("\n"))
	line = bytes.TrimRight(line, "\r")
	if !bytes.HasPrefix(line, []byte("--")) || len(line) < 3 {
		return "", false
	}
	return string(line[2:]), true
}
