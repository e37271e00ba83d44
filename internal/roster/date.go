package roster

import (
	"errors"
	"fmt"
	"time"
)

// Date is a calendar date with no time zone, stored as the number
// yyyymmdd so that dates compare with < and the zero value means "none".
// School dates (term starts, enrolment ends) are local to the school; a
// time.Time would invite time-zone mistakes around midnight.
type Date uint32

// ErrDate reports a string that is not a YYYY-MM-DD calendar date.
var ErrDate = errors.New("not a YYYY-MM-DD date")

// NewDate returns the date. It does not normalise: NewDate(2025, 2, 30)
// is not a valid date, and ParseDate would have refused it.
func NewDate(year int, month time.Month, day int) Date {
	return Date(year*10000 + int(month)*100 + day)
}

// DateOf returns the calendar date of t in t's location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return NewDate(y, m, d)
}

// ParseDate reads a YYYY-MM-DD date. The empty string is the zero Date.
func ParseDate(s string) (Date, error) {
	if s == "" {
		return 0, nil
	}
	// Fixed width first: feeds that write 2025-9-1 or 01/09/2025 get the
	// same error as any other malformed date.
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return 0, fmt.Errorf("%q: %w", s, ErrDate)
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return 0, fmt.Errorf("%q: %w", s, ErrDate)
	}
	return DateOf(t), nil
}

// IsZero reports whether d is unset.
func (d Date) IsZero() bool { return d == 0 }

// Year, Month and Day return the parts of d.
func (d Date) Year() int          { return int(d / 10000) }
func (d Date) Month() time.Month  { return time.Month(d / 100 % 100) }
func (d Date) Day() int           { return int(d % 100) }
func (d Date) Before(e Date) bool { return d < e }
func (d Date) After(e Date) bool  { return d > e }

// String returns YYYY-MM-DD, or "" for the zero Date.
func (d Date) String() string {
	if d == 0 {
		return ""
	}
	return fmt.Sprintf("%04d-%02d-%02d", d.Year(), d.Month(), d.Day())
}

// MarshalText writes YYYY-MM-DD.
func (d Date) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads YYYY-MM-DD.
func (d *Date) UnmarshalText(b []byte) error {
	v, err := ParseDate(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// Within reports whether d lies in [begin, end], where a zero bound is open.
func (d Date) Within(begin, end Date) bool {
	return (begin == 0 || d >= begin) && (end == 0 || d <= end)
}
