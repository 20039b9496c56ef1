// Package page is the cursor pagination of every list in the HTTP APIs
// (the coordinator's and the chain's). A request carries a limit (at most
// MaxLimit, DefaultLimit when unset) and an opaque cursor; the answer
// carries "next", the cursor of the following page, empty on the last one.
// A cursor is the sort key of the last item returned, so a page never
// repeats or skips an item that was there before the listing started, and
// it costs the server no state.
package page

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
)

const (
	// MaxLimit bounds the items of one page.
	MaxLimit = 1000
	// DefaultLimit is a page's size when the request sets no limit.
	DefaultLimit = 100
	// MaxCursorBytes bounds an encoded cursor (sort keys are short: a name
	// of at most 64 bytes, or a height and a 32-byte id).
	MaxCursorBytes = 128
)

// Errors of Parse, which callers turn into their API's 400.
var (
	ErrBadLimit  = fmt.Errorf("limit must be an integer from 1 to %d (max_page_limit)", MaxLimit)
	ErrBadCursor = errors.New("cursor is not one this API gave out: pass the \"next\" of the previous page, or none for the first page")
)

// Request is one page asked for: at most Limit items after the sort key
// After (nil: from the first item).
type Request struct {
	Limit int
	After []byte
}

// Parse reads the limit and cursor query parameters.
func Parse(q url.Values) (Request, error) {
	r := Request{Limit: DefaultLimit}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxLimit {
			return Request{}, ErrBadLimit
		}
		r.Limit = n
	}
	if s := q.Get("cursor"); s != "" {
		if len(s) > MaxCursorBytes {
			return Request{}, ErrBadCursor
		}
		b, err := base64.RawURLEncoding.Strict().DecodeString(s)
		// the decoder skips '\r' and '\n': only the exact encoding is a cursor
		if err != nil || len(b) == 0 || Cursor(b) != s {
			return Request{}, ErrBadCursor
		}
		r.After = b
	}
	return r, nil
}

// Cursor encodes a sort key as a cursor.
func Cursor(key []byte) string { return base64.RawURLEncoding.EncodeToString(key) }

// Query is the query string asking for the page after cursor with limit
// (0: the server's default), to append to a path.
func Query(limit int, cursor string) string {
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	return q.Encode()
}

// Slice returns the page r asks for of items, which are sorted by key
// ascending with distinct keys, and the cursor of the next page ("" when
// this is the last).
func Slice[T any](items []T, key func(T) []byte, r Request) ([]T, string) {
	lo := 0
	if r.After != nil {
		lo = sort.Search(len(items), func(i int) bool { return bytes.Compare(key(items[i]), r.After) > 0 })
	}
	limit := r.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	hi := min(lo+limit, len(items))
	out := items[lo:hi]
	if hi == len(items) || len(out) == 0 {
		return out, ""
	}
	return out, Cursor(key(out[len(out)-1]))
}
