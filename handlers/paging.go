package handlers

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

// Lists that can grow with a customer's history (runs, a run's log, a
// plan's entries, its unsynced objects) are paged: ?top=N&continuation=T,
// answered as {value, nextLink}. nextLink is the path and query of the
// next page, absent on the last one. The continuation is opaque to the
// caller: for stored lists it is the last row key read, so the store reads
// one page, never the whole partition.
const (
	defaultTop = 100
	maxTop     = 1000
)

// pageRequest is a list request's page: its size and where it starts
// (the decoded continuation, "" for the first page).
type pageRequest struct {
	top   int
	after string
}

// readPage parses top and continuation, answering 400 when either is bad.
func readPage(w http.ResponseWriter, r *http.Request) (pageRequest, bool) {
	p := pageRequest{top: defaultTop}
	q := r.URL.Query()
	if s := q.Get("top"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxTop {
			writeProblem(w, r, ProblemValidation, fmt.Sprintf("top=%q: want 1 to %d", s, maxTop))
			return p, false
		}
		p.top = n
	}
	if s := q.Get("continuation"); s != "" {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil || len(b) == 0 {
			writeProblem(w, r, ProblemValidation, "continuation: not a token this API gave out")
			return p, false
		}
		p.after = string(b)
	}
	return p, true
}

// pageOf answers a page: the values and, when next is set, the link to
// the page after it (the same request with the continuation replaced).
type pageOf[T any] struct {
	Value    []T    `json:"value"`
	NextLink string `json:"nextLink,omitempty"`
}

func newPage[T any](r *http.Request, values []T, next string) pageOf[T] {
	if values == nil {
		values = []T{}
	}
	out := pageOf[T]{Value: values}
	if next != "" {
		q := r.URL.Query()
		q.Set("continuation", base64.RawURLEncoding.EncodeToString([]byte(next)))
		out.NextLink = (&url.URL{Path: r.URL.Path, RawQuery: q.Encode()}).String()
	}
	return out
}

// slicePage pages a list held in memory (a stored plan's entries): the
// continuation is the offset of the next item, since a stored plan's
// changes and their order never change.
func slicePage[T any](p pageRequest, all []T) ([]T, string, error) {
	start := 0
	if p.after != "" {
		n, err := strconv.Atoi(p.after)
		if err != nil || n < 0 || n > len(all) {
			return nil, "", fmt.Errorf("continuation out of range")
		}
		start = n
	}
	end := min(start+p.top, len(all))
	next := ""
	if end < len(all) {
		next = strconv.Itoa(end)
	}
	return all[start:end], next, nil
}
