package state

import (
	"errors"
	"slices"
	"testing"
)

func TestEncodeKeyRoundTrip(t *testing.T) {
	tests := [][]string{
		{"oakfield", "nightly"},
		{"a/b", `c\d`, "e#f", "g?h", "tab\there", "del\x7f", "nel\u0085", "pipe|tilde~"},
		{""},
		{"Zoë", "李"},
	}
	for _, parts := range tests {
		k := EncodeKey(parts...)
		if err := ValidateKey("RowKey", k); err != nil && len(k) > 0 {
			t.Errorf("EncodeKey(%q) = %q, not a valid key: %v", parts, k, err)
		}
		got, err := DecodeKey(k)
		if err != nil || !slices.Equal(got, parts) {
			t.Errorf("DecodeKey(EncodeKey(%q)) = %q, %v", parts, got, err)
		}
	}
	if EncodeKey("oakfield") != "oakfield" {
		t.Error("plain ids should stay readable")
	}
}

func TestDecodeKeyRejectsBadEscapes(t *testing.T) {
	for _, k := range []string{"~", "~4", "~4g", "~ 1"} {
		if _, err := DecodeKey(k); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("DecodeKey(%q) = %v, want ErrInvalidKey", k, err)
		}
	}
}

func TestChunk(t *testing.T) {
	var ops []Op
	for i := range 250 {
		pk := "a"
		if i%5 == 0 {
			pk = "b"
		}
		ops = append(ops, Op{Kind: OpUpsert, Entity: Entity{PartitionKey: pk, RowKey: EncodeKey(string(rune('a'+i%26)), string(rune(i)))}})
	}
	chunks := Chunk(ops)
	total := 0
	for _, c := range chunks {
		if err := ValidateTransaction(c); err != nil {
			t.Errorf("chunk of %d ops is not a valid transaction: %v", len(c), err)
		}
		total += len(c)
	}
	if total != 250 || len(chunks) != 3 { // 200 in "a" (2 chunks) + 50 in "b"
		t.Errorf("Chunk gave %d chunks holding %d ops, want 3 holding 250", len(chunks), total)
	}
}

func FuzzKeyRoundTrip(f *testing.F) {
	f.Add("oakfield", "a/b#c")
	f.Fuzz(func(t *testing.T, a, b string) {
		k := EncodeKey(a, b)
		got, err := DecodeKey(k)
		if err != nil || !slices.Equal(got, []string{a, b}) {
			t.Fatalf("round trip of %q, %q = %q, %v", a, b, got, err)
		}
		for _, r := range k {
			if forbiddenKeyRune(r) {
				t.Fatalf("EncodeKey(%q, %q) = %q holds forbidden %q", a, b, k, r)
			}
		}
	})
}
