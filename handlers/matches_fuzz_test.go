package handlers

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzReadMatchFile: whatever is uploaded, the match-file reader answers
// rows or an error, never panics; every row it answers is from the file
// (its fields' text is in the body), non-blank, numbered from 1, and no
// more than the cap.
func FuzzReadMatchFile(f *testing.F) {
	for _, seed := range []string{
		"class,group\ncls-1,3f1c9a60-5b1e-4c9e-9a41-7d2e0c1b2a55\n",
		"\xef\xbb\xbfcls-1,2026-10AEn2@oak.example\r\ncls-2,2026-10AEn3\r\n",
		"\"cls,1\",\"g \"\"x\"\"\"\n,\n\n",
		"cls-1\n",
		"a,\"b\nc\",d\n",
		"\xff\xfe",
		"",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		rows, err := readMatchFile(body)
		if err != nil {
			if len(rows) > 0 {
				t.Fatalf("an error (%v) with %d rows", err, len(rows))
			}
			return
		}
		if len(rows) == 0 || len(rows) > maxMatchRows {
			t.Fatalf("%d rows answered without an error", len(rows))
		}
		if !utf8.Valid(body) {
			t.Fatalf("a file that is not UTF-8 was read")
		}
		// Quotes, CRs and line ends are what CSV moves around; the rest of
		// each field's text must be in the file as it is.
		strip := strings.NewReplacer("\"", "", "\r", "", "\n", "")
		text := strip.Replace(string(body))
		for _, r := range rows {
			if r.line < 1 {
				t.Fatalf("row at line %d", r.line)
			}
			blank := true
			for _, f := range r.fields {
				if strings.TrimSpace(f) != "" {
					blank = false
				}
				if !strings.Contains(text, strip.Replace(f)) {
					t.Fatalf("field %q is not from the file", f)
				}
			}
			if blank {
				t.Fatalf("blank row answered at line %d", r.line)
			}
		}
	})
}
