package tablestore

import (
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/rostersync/rostersync/internal/state"
)

// These tests need no service: they cover the parsing and query building
// the Azurite tests exercise only along the way.

func TestFilter(t *testing.T) {
	cases := []struct {
		q    state.Query
		want string
	}{
		{state.Query{}, ""},
		{state.Query{PartitionKey: "p1"}, "PartitionKey eq 'p1'"},
		{state.Query{PartitionKey: "it's"}, "PartitionKey eq 'it''s'"},
		{state.Query{PartitionKey: "p", RowKeyPrefix: "ab"}, "PartitionKey eq 'p' and RowKey ge 'ab' and RowKey lt 'ac'"},
		{state.Query{RowKeyPrefix: "o'"}, "RowKey ge 'o''' and RowKey lt 'o('"},
		{state.Query{RowKeyPrefix: "a\U0010FFFF"}, "RowKey ge 'a\U0010FFFF' and RowKey lt 'b'"},
		{state.Query{RowKeyPrefix: "\U0010FFFF"}, "RowKey ge '\U0010FFFF'"},
		{state.Query{RowKeyPrefix: "\uD7FF"}, "RowKey ge '\uD7FF' and RowKey lt '\uE000'"},
	}
	for _, tc := range cases {
		if got := filter(tc.q); got != tc.want {
			t.Errorf("filter(%+v) = %q, want %q", tc.q, got, tc.want)
		}
	}
}

func TestIsDevelopmentStorage(t *testing.T) {
	cases := map[string]bool{
		"UseDevelopmentStorage=true":                                     true,
		" usedevelopmentstorage = TRUE ;":                                true,
		"UseDevelopmentStorage=true;DevelopmentStorageProxyUri=http://x": true,
		"UseDevelopmentStorage=false":                                    false,
		state.TableRuns:                                                  false,
		DevelopmentConnectionString:                                      false,
	}
	for cs, want := range cases {
		if got := isDevelopmentStorage(cs); got != want {
			t.Errorf("isDevelopmentStorage(%q) = %v, want %v", cs, got, want)
		}
	}
}

func TestETagTime(t *testing.T) {
	got := etagTime(azcore.ETag(`W/"datetime'2026-11-21T05%3A46%3A12.5547633Z'"`))
	want := time.Date(2026, 11, 21, 5, 46, 12, 554763300, time.UTC)
	if !got.Equal(want) {
		t.Errorf("etagTime = %v, want %v", got, want)
	}
	for _, etag := range []string{"", `W/"abc"`, `W/"datetime'nonsense'"`, `W/"datetime'2026`} {
		if got := etagTime(azcore.ETag(etag)); !got.IsZero() {
			t.Errorf("etagTime(%q) = %v, want zero", etag, got)
		}
	}
}

// azuriteBatchConflict is what Azurite 3.35 answered when the second of two
// inserts met an existing row.
const azuriteBatchConflict = "--batchresponse_61ae193b-88ed-4609-5bca-e1fd245edf26\r\n" +
	"Content-Type: multipart/mixed; boundary=changesetresponse_7bcd1e08-2a8a-41a7-459d-0a29db6e7ad8\r\n\r\n" +
	"--changesetresponse_7bcd1e08-2a8a-41a7-459d-0a29db6e7ad8\r\n" +
	"Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n" +
	"HTTP/1.1 409 Conflict\r\nContent-ID: 2\r\nDataServiceVersion: 3.0;\r\n" +
	"Content-Type: application/json;odata=minimalmetadata;charset=utf-8\r\n\r\n" +
	`{"odata.error":{"code":"EntityAlreadyExists","message":{"lang":"en-US","value":"1:The specified entity already exists.\nRequestId:b4304033\nTime:2026-11-21T05:46:12.572Z"}}}` + "\r\n" +
	"--changesetresponse_7bcd1e08-2a8a-41a7-459d-0a29db6e7ad8--\r\n" +
	"--batchresponse_61ae193b-88ed-4609-5bca-e1fd245edf26--\r\n"

func TestBatchFailure(t *testing.T) {
	for _, contentType := range []string{
		"multipart/mixed; boundary=batchresponse_61ae193b-88ed-4609-5bca-e1fd245edf26",
		"", // fall back to the body's first line
	} {
		f, ok := batchFailure(contentType, []byte(azuriteBatchConflict))
		if !ok || f.op != 1 || f.status != 409 || f.code != "EntityAlreadyExists" {
			t.Errorf("batchFailure(%q) = %+v, %v; want operation 1, 409, EntityAlreadyExists", contentType, f, ok)
		}
	}
	for _, body := range []string{"", "{}", "--x\r\n\r\nnot multipart", strings.ReplaceAll(azuriteBatchConflict, "409 Conflict", "204 No Content")} {
		if f, ok := batchFailure("", []byte(body)); ok {
			t.Errorf("batchFailure(%.30q) = %+v, want no failure found", body, f)
		}
	}
}

func TestDecodeEntity(t *testing.T) {
	raw := `{"odata.metadata":"m","odata.etag":"W/\"x\"","PartitionKey":"p","RowKey":"r",` +
		`"Timestamp":"2026-01-02T03:04:05.1234567Z","Timestamp@odata.type":"Edm.DateTime",` +
		`"Name":"n","Count":42,"Count@odata.type":"Edm.Int32","Big":"12345678901234567890","Big@odata.type":"Edm.Int64","Flag":true}`
	e, err := decodeEntity([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"Name": "n", "Count": "42", "Big": "12345678901234567890", "Flag": "true"}
	if e.PartitionKey != "p" || e.RowKey != "r" || e.ETag != `W/"x"` || e.Timestamp.Nanosecond() != 123456700 {
		t.Errorf("decodeEntity keys/etag/time = %q %q %q %v", e.PartitionKey, e.RowKey, e.ETag, e.Timestamp)
	}
	if len(e.Props) != len(want) {
		t.Errorf("decodeEntity props = %v, want %v", e.Props, want)
	}
	for k, v := range want {
		if e.Props[k] != v {
			t.Errorf("decodeEntity prop %s = %q, want %q", k, e.Props[k], v)
		}
	}
}

func TestServiceErrorTransient(t *testing.T) {
	for status, want := range map[int]bool{500: true, 503: true, 408: true, 429: true, 404: false, 409: false, 412: false, 400: false} {
		e := &ServiceError{StatusCode: status}
		if got := e.Transient(); got != want {
			t.Errorf("HTTP %d transient = %t, want %t", status, got, want)
		}
	}
}
