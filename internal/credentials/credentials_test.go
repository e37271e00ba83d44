package credentials

import (
	"context"
	"errors"
	"strings"
	"testing"
	"unicode"

	"github.com/rostersync/rostersync/internal/state"
	"github.com/rostersync/rostersync/internal/state/embedded"
)

func classes(s string) int {
	var u, l, d, o int
	for _, r := range s {
		switch {
		case unicode.IsUpper(r):
			u = 1
		case unicode.IsLower(r):
			l = 1
		case unicode.IsDigit(r):
			d = 1
		default:
			o = 1
		}
	}
	return u + l + d + o
}

func TestGenerate(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		s, err := Generate("strong")
		if err != nil || len(s) != strongLength || classes(s) != 4 {
			t.Fatalf("strong password %d chars, %d classes, %v", len(s), classes(s), err)
		}
		w, err := Generate("words")
		if err != nil || len(w) < 8 || classes(w) < 3 {
			t.Fatalf("word password %q: %d classes, %v", w, classes(w), err)
		}
		if seen[s] {
			t.Fatal("a strong password repeated")
		}
		seen[s] = true
	}
	if _, err := Generate("pin"); err == nil {
		t.Error("unknown kind accepted")
	}
}

func TestVaultSealsAndHandsOverOnce(t *testing.T) {
	b, _ := embedded.Open("")
	key, _ := ParseKey(NewKey())
	v, err := NewVault(b, key)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, k := range []string{"s1", "s2", "s3"} {
		if err := v.PutCredential(ctx, "oak", "r1", k, k+"@oak.example", "pw-"+k); err != nil {
			t.Fatal(err)
		}
	}
	// Nothing readable at rest.
	tbl, _ := b.Table(ctx, TableCredentials)
	rows, _ := tbl.List(ctx, state.Query{})
	for _, r := range rows {
		for _, v := range r.Props {
			if strings.Contains(v, "pw-") || strings.Contains(v, "oak.example") {
				t.Fatalf("row %s holds plain text", r.RowKey)
			}
		}
	}
	got, err := v.Export(ctx, "oak", "r1", []string{"s2"})
	if err != nil || got.ID == "" || len(got.Credentials) != 1 || got.Credentials[0].Password != "pw-s2" || got.Credentials[0].UPN != "s2@oak.example" {
		t.Fatalf("Export(s2) = %+v, %v", got, err)
	}
	if strings.Contains(got.Credentials[0].String(), "pw-") {
		t.Error("Credential.String shows the password")
	}
	if n, _ := v.Count(ctx, "oak", "r1"); n != 3 {
		t.Errorf("exporting deleted something: %d remain, want 3", n)
	}
	if n, err := v.Acknowledge(ctx, "oak", "r1", got.ID); err != nil || n != 1 {
		t.Fatalf("Acknowledge(s2) = %d, %v; want 1", n, err)
	}
	rest, _ := v.Export(ctx, "oak", "r1", nil)
	if len(rest.Credentials) != 2 || rest.ID == got.ID {
		t.Errorf("after acknowledging s2, export = %d rows id %s; want 2 under a new id", len(rest.Credentials), rest.ID)
	}
	if _, err := v.Acknowledge(ctx, "oak", "r1", rest.ID); err != nil {
		t.Fatal(err)
	}
	if again, _ := v.Export(ctx, "oak", "r1", nil); again.ID != "" || len(again.Credentials) != 0 {
		t.Errorf("export after acknowledging all = %+v, want nothing", again)
	}
	other, _ := ParseKey(NewKey())
	v2, _ := NewVault(b, other)
	_ = v.PutCredential(ctx, "oak", "r2", "s9", "s9@oak.example", "pw")
	if _, err := v2.Export(ctx, "oak", "r2", nil); !errors.Is(err, ErrKey) {
		t.Errorf("export with the wrong key = %v, want ErrKey", err)
	}
}
