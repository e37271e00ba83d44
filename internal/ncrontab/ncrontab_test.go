package ncrontab

import (
	"errors"
	"testing"
	"time"
)

func TestNext(t *testing.T) {
	base := time.Date(2026, 11, 21, 10, 7, 30, 0, time.UTC)
	tests := []struct {
		name, expr string
		from       time.Time
		want       time.Time
	}{
		{"every five minutes", "0 */5 * * * *", base, time.Date(2026, 11, 21, 10, 10, 0, 0, time.UTC)},
		{"every second", "* * * * * *", base, base.Add(time.Second)},
		{"five-field form", "*/15 * * * *", base, time.Date(2026, 11, 21, 10, 15, 0, 0, time.UTC)},
		{"daily at 02:30", "0 30 2 * * *", base, time.Date(2026, 11, 22, 2, 30, 0, 0, time.UTC)},
		{"weekdays by name", "0 0 9 * * Mon-Fri", base, time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}, // 21st is a Saturday
		{"sunday as 7", "0 0 0 * * 7", base, time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)},
		{"month rollover", "0 0 0 1 * *", base, time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)},
		{"year rollover", "0 0 0 1 Jan *", base, time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"list and range step", "0 0,30 8-18/5 * * *", base, time.Date(2026, 11, 21, 13, 0, 0, 0, time.UTC)},
		{"day-of-month or weekday", "0 0 0 25 * Mon", base, time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)},
		{"leap day", "0 0 0 29 2 *", base, time.Date(2028, 2, 29, 0, 0, 0, 0, time.UTC)},
		{"never", "0 0 0 30 2 *", base, time.Time{}},
		{"strictly after", "30 7 10 * * *", base, time.Date(2026, 11, 22, 10, 7, 30, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse(tt.expr)
			if err != nil {
				t.Fatalf("Parse(%q) = %v", tt.expr, err)
			}
			if got := s.Next(tt.from); !got.Equal(tt.want) {
				t.Errorf("Parse(%q).Next(%v) = %v, want %v", tt.expr, tt.from, got, tt.want)
			}
		})
	}
}

func TestNextInZone(t *testing.T) {
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	s, err := Parse("0 30 1 * * *")
	if err != nil {
		t.Fatal(err)
	}
	// The night the clocks go back, 01:30 happens at the first pass.
	from := time.Date(2026, 10, 24, 12, 0, 0, 0, london)
	got := s.Next(from)
	if got.Day() != 25 || got.Hour() != 1 || got.Minute() != 30 {
		t.Errorf("Next(%v) = %v, want 2026-10-25 01:30 local", from, got)
	}
}

func TestParseErrors(t *testing.T) {
	for _, expr := range []string{
		"", "* * * *", "* * * * * * *", "60 * * * * *", "* 60 * * * *", "* * 24 * * *",
		"* * * 0 * *", "* * * 32 * *", "* * * * 13 * *", "* * * * * 8", "*/0 * * * * *",
		"5-1 * * * * *", "a * * * * *", "* * * * Foo *", "1,,2 * * * * *", "*/x * * * * *",
	} {
		if _, err := Parse(expr); !errors.Is(err, ErrSyntax) {
			t.Errorf("Parse(%q) error = %v, want ErrSyntax", expr, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, seed := range []string{"0 */5 * * * *", "0 30 2 * * Mon-Fri", "*/15 * * * *", "1-5/2,7 0 0 1 Jan 7"} {
		f.Add(seed)
	}
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, expr string) {
		s, err := Parse(expr)
		if err != nil {
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("Parse(%q) error %v does not wrap ErrSyntax", expr, err)
			}
			return
		}
		next := s.Next(from)
		if !next.IsZero() && !next.After(from) {
			t.Fatalf("Parse(%q).Next(%v) = %v, not after", expr, from, next)
		}
	})
}
