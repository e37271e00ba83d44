// Package ncrontab parses the NCRONTAB schedules of Azure Functions timer
// triggers ("{second} {minute} {hour} {day} {month} {day-of-week}", or the
// five-field form without seconds) and computes their next occurrences.
package ncrontab

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrSyntax wraps every parse error.
var ErrSyntax = errors.New("ncrontab syntax")

// Schedule is a parsed expression: one bit set per allowed value.
type Schedule struct {
	second, minute, hour, day, month, weekday uint64
	expr                                      string
}

type field struct {
	name     string
	min, max int
	names    map[string]int
}

var (
	secondField  = field{name: "second", min: 0, max: 59}
	minuteField  = field{name: "minute", min: 0, max: 59}
	hourField    = field{name: "hour", min: 0, max: 23}
	dayField     = field{name: "day", min: 1, max: 31}
	monthField   = field{name: "month", min: 1, max: 12, names: map[string]int{"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12}}
	weekdayField = field{name: "day-of-week", min: 0, max: 6, names: map[string]int{"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}}
)

// Parse reads a six-field (with seconds) or five-field expression.
func Parse(expr string) (Schedule, error) {
	parts := strings.Fields(expr)
	fields := []field{secondField, minuteField, hourField, dayField, monthField, weekdayField}
	switch len(parts) {
	case 6:
	case 5:
		parts = append([]string{"0"}, parts...)
	default:
		return Schedule{}, fmt.Errorf("%w: %q has %d fields, want 6 ({second} {minute} {hour} {day} {month} {day-of-week}) or 5", ErrSyntax, expr, len(parts))
	}
	var bits [6]uint64
	for i, f := range fields {
		b, err := f.parse(parts[i])
		if err != nil {
			return Schedule{}, fmt.Errorf("%w: %q: %s field %q: %v", ErrSyntax, expr, f.name, parts[i], err)
		}
		bits[i] = b
	}
	return Schedule{second: bits[0], minute: bits[1], hour: bits[2], day: bits[3], month: bits[4], weekday: bits[5], expr: expr}, nil
}

func (s Schedule) String() string { return s.expr }

func (f field) parse(s string) (uint64, error) {
	var bits uint64
	for _, item := range strings.Split(s, ",") {
		b, err := f.parseItem(item)
		if err != nil {
			return 0, err
		}
		bits |= b
	}
	return bits, nil
}

// parseItem reads one of: *, */n, v, a-b, a-b/n, v/n.
func (f field) parseItem(item string) (uint64, error) {
	if item == "" {
		return 0, errors.New("empty list item")
	}
	rangePart, step := item, 1
	if i := strings.IndexByte(item, '/'); i >= 0 {
		rangePart = item[:i]
		n, err := strconv.Atoi(item[i+1:])
		if err != nil || n < 1 {
			return 0, fmt.Errorf("step %q: want a positive integer", item[i+1:])
		}
		step = n
	}
	lo, hi := f.min, f.max
	switch {
	case rangePart == "*":
	case strings.Contains(rangePart, "-"):
		a, b, _ := strings.Cut(rangePart, "-")
		var err error
		if lo, err = f.value(a); err != nil {
			return 0, err
		}
		if hi, err = f.value(b); err != nil {
			return 0, err
		}
		if hi < lo {
			return 0, fmt.Errorf("range %s is backwards", rangePart)
		}
	default:
		v, err := f.value(rangePart)
		if err != nil {
			return 0, err
		}
		lo = v
		if step == 1 {
			hi = v
		}
	}
	var bits uint64
	for v := lo; v <= hi; v += step {
		bits |= 1 << uint(v)
	}
	return bits, nil
}

func (f field) value(s string) (int, error) {
	if v, ok := f.names[strings.ToLower(s)]; ok {
		return v, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("value %q: want a number from %d to %d", s, f.min, f.max)
	}
	if f.name == "day-of-week" && v == 7 {
		v = 0 // Sunday written as 7, as cron allows
	}
	if v < f.min || v > f.max {
		return 0, fmt.Errorf("value %d: want %d to %d", v, f.min, f.max)
	}
	return v, nil
}

func has(bits uint64, v int) bool { return bits&(1<<uint(v)) != 0 }

// Next returns the first occurrence strictly after t, in t's location, or
// the zero time when the schedule never fires (e.g. 30 February) within
// five years.
func (s Schedule) Next(t time.Time) time.Time {
	loc := t.Location()
	t = t.Truncate(time.Second).Add(time.Second)
	limit := t.AddDate(5, 0, 0)
	for t.Before(limit) {
		if !has(s.month, int(t.Month())) {
			t = time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, loc)
			continue
		}
		if !s.dayMatches(t) {
			t = time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, loc)
			continue
		}
		if !has(s.hour, t.Hour()) {
			t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour()+1, 0, 0, 0, loc)
			continue
		}
		if !has(s.minute, t.Minute()) {
			t = t.Truncate(time.Minute).Add(time.Minute)
			continue
		}
		if !has(s.second, t.Second()) {
			t = t.Add(time.Second)
			continue
		}
		return t
	}
	return time.Time{}
}

// dayMatches follows cron: when both day-of-month and day-of-week are
// restricted, either may match.
func (s Schedule) dayMatches(t time.Time) bool {
	allDays := s.day == dayField.all()
	allWeekdays := s.weekday == weekdayField.all()
	dom, dow := has(s.day, t.Day()), has(s.weekday, int(t.Weekday()))
	switch {
	case allDays && allWeekdays:
		return true
	case allDays:
		return dow
	case allWeekdays:
		return dom
	default:
		return dom || dow
	}
}

func (f field) all() uint64 {
	var bits uint64
	for v := f.min; v <= f.max; v++ {
		bits |= 1 << uint(v)
	}
	return bits
}
