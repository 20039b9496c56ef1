package page

import (
	"fmt"
	"net/url"
	"testing"
)

func TestSliceWalksEveryItemOnce(t *testing.T) {
	t.Parallel()
	var items []string
	for i := range 25 {
		items = append(items, fmt.Sprintf("k%03d", i))
	}
	key := func(s string) []byte { return []byte(s) }
	for _, limit := range []int{1, 2, 7, 25, 26, MaxLimit} {
		var got []string
		cursor, pages := "", 0
		for {
			q, _ := url.ParseQuery(Query(limit, cursor))
			r, err := Parse(q)
			if err != nil {
				t.Fatal(err)
			}
			p, next := Slice(items, key, r)
			got = append(got, p...)
			pages++
			if next == "" {
				break
			}
			cursor = next
		}
		if fmt.Sprint(got) != fmt.Sprint(items) {
			t.Fatalf("limit %d: walked %v", limit, got)
		}
		if want := (len(items) + limit - 1) / limit; pages != want {
			t.Fatalf("limit %d: %d pages, want %d", limit, pages, want)
		}
	}
	// an item added before the cursor does not shift the next page
	r := Request{Limit: 5}
	p, next := Slice(items, key, r)
	items = append([]string{"a"}, items...)
	q, _ := url.ParseQuery(Query(5, next))
	r, _ = Parse(q)
	p2, _ := Slice(items, key, r)
	if p[len(p)-1] != "k004" || p2[0] != "k005" {
		t.Fatalf("pages %v then %v", p, p2)
	}
}

func TestParseRefuses(t *testing.T) {
	t.Parallel()
	for _, q := range []string{"limit=0", "limit=-1", "limit=1001", "limit=x", "limit=99999999999999999999",
		"cursor=***", "cursor=" + string(make([]byte, 200))} {
		v, _ := url.ParseQuery(q)
		if _, err := Parse(v); err == nil {
			t.Errorf("%s: accepted", q)
		}
	}
	r, err := Parse(url.Values{})
	if err != nil || r.Limit != DefaultLimit || r.After != nil {
		t.Fatalf("no parameters: %+v %v", r, err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add("limit=5&cursor=" + Cursor([]byte("demo")))
	f.Add("cursor=%00")
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		r, err := Parse(q)
		if err != nil {
			return
		}
		if r.Limit < 1 || r.Limit > MaxLimit || len(r.After) > MaxCursorBytes {
			t.Fatalf("accepted %+v", r)
		}
		if r.After != nil && Cursor(r.After) != q.Get("cursor") {
			t.Fatalf("cursor %q does not round-trip", q.Get("cursor"))
		}
	})
}
