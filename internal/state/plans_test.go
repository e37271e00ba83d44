package state

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/rostersync/rostersync/internal/plan"
)

// TestPlanBodyStreamsMarshalBytes: the streamed plan body is byte for byte
// json.Marshal of the plan, and its digest that of those bytes, so plans
// keep their names; across chunk boundaries, with no changes, and with
// strings that look like the key the stream splits at.
func TestPlanBodyStreamsMarshalBytes(t *testing.T) {
	changes := func(n int) []plan.Change {
		out := make([]plan.Change, n)
		for i := range out {
			out[i] = plan.Change{Kind: "user", Key: fmt.Sprintf("stu-%05d", i), Action: plan.Action("create"), Detail: `<new> & "quoted"`,
				After:   map[string]string{"displayName": fmt.Sprintf("Pupil %d", i), "mail": "p@x", "z": `"changes":null`},
				Payload: &plan.Payload{Version: 1, Data: json.RawMessage(`{ "licences" : ["a"] }`)}, Held: i%7 == 0}
		}
		return out
	}
	base := plan.Plan{FormatVersion: plan.FormatVersion, CustomerID: `c"changes":null`, RunID: "r1", Entity: "users",
		CreatedAt: time.Date(2026, 9, 1, 2, 0, 0, 0, time.UTC), Matched: 3,
		Unsynced: []plan.Unsynced{{Key: "stu-x", Detail: `"changes":null`}}, Errors: []string{"e"}}
	for _, n := range []int{0, 1, planChunk - 1, planChunk, planChunk + 1, 3*planChunk + 17, (2*planBuffers+1)*planChunk + 3} {
		for _, nilChanges := range []bool{false, true} {
			p := base
			p.Changes = changes(n)
			if nilChanges && n == 0 {
				p.Changes = nil
			}
			want, err := json.Marshal(&p)
			if err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			if err := writePlanJSON(&got, &p); err != nil {
				t.Fatalf("%d changes: %v", n, err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Fatalf("%d changes: streamed body differs from json.Marshal\n got %.300s\nwant %.300s", n, got.Bytes(), want)
			}
			body, digest, err := encodePlanBody(&p)
			if err != nil {
				t.Fatal(err)
			}
			zr, err := gzip.NewReader(bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			raw, err := io.ReadAll(zr)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(want)
			if !bytes.Equal(raw, want) || digest != hex.EncodeToString(sum[:]) {
				t.Fatalf("%d changes: gzipped body or digest is not that of json.Marshal", n)
			}
		}
	}
}

// failAfter accepts n writes, then fails every write.
type failAfter struct{ n int }

var errDiskFull = errors.New("disk full")

func (f *failAfter) Write(b []byte) (int, error) {
	if f.n == 0 {
		return 0, errDiskFull
	}
	f.n--
	return len(b), nil
}

// TestPlanBodyWriteFailure: a writer that fails part way through a plan
// many chunks long ends the stream with its error, wherever it fails,
// rather than hanging the encoder or reporting success.
func TestPlanBodyWriteFailure(t *testing.T) {
	p := plan.Plan{FormatVersion: plan.FormatVersion, RunID: "r1", Entity: "users"}
	for i := range (2*planBuffers + 3) * planChunk {
		p.Changes = append(p.Changes, plan.Change{Kind: "user", Key: fmt.Sprintf("stu-%05d", i), Action: plan.Create})
	}
	for _, okWrites := range []int{0, 1, 2, planBuffers, 2*planBuffers + 3} {
		if err := writePlanJSON(&failAfter{n: okWrites}, &p); !errors.Is(err, errDiskFull) {
			t.Errorf("writer failing after %d writes: got %v, want %v", okWrites, err, errDiskFull)
		}
	}
}
