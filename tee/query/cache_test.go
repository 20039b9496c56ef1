package query

import (
	"sync"
	"testing"

	"github.com/vsc-labs/vsc/internal/records"
)

func TestCache(t *testing.T) {
	t.Parallel()
	c := NewCache(100)
	a, b, d := seq(1, 1), seq(2, 1), seq(3, 1)
	c.Put("a", a, 40)
	c.Put("b", b, 40)
	if got, ok := c.Get("a"); !ok || got != a { // a is now the most recently used
		t.Fatal("a missing")
	}
	c.Put("d", d, 40) // evicts b, the least recently used
	if _, ok := c.Get("b"); ok {
		t.Fatal("b kept past the size limit")
	}
	if _, ok := c.Get("a"); !ok {
		t.Fatal("a evicted although used more recently than b")
	}
	if c.Len() != 2 || c.Bytes() != 80 {
		t.Fatalf("len %d bytes %d", c.Len(), c.Bytes())
	}
	c.Put("huge", a, 101)
	if _, ok := c.Get("huge"); ok || c.Bytes() != 80 {
		t.Fatal("a dataset larger than the cache was stored or evicted others")
	}
	c.Put("a", b, 61) // replacing a key re-sizes it and evicts d
	if got, _ := c.Get("a"); got != b || c.Bytes() != 61 || c.Len() != 1 {
		t.Fatalf("replace: len %d bytes %d", c.Len(), c.Bytes())
	}
	if NewCache(0).Put("x", a, 1); NewCache(0).Len() != 0 {
		t.Fatal("a zero cache keeps something")
	}
}

func TestCacheConcurrent(t *testing.T) {
	t.Parallel()
	c := NewCache(1000)
	ds := seq(10, 2)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 200 {
				key := string(rune('a' + (w+i)%20))
				if _, ok := c.Get(key); !ok {
					c.Put(key, ds, 100)
				}
			}
		})
	}
	wg.Wait()
	if c.Bytes() > 1000 || c.Len() > 10 {
		t.Fatalf("over the limit: len %d bytes %d", c.Len(), c.Bytes())
	}
}

func TestDatasetSize(t *testing.T) {
	t.Parallel()
	ds := &records.Dataset{Fields: []string{"ab", "c"}, Records: [][]int64{{1, 2}, {3, 4}}}
	if got, want := DatasetSize(ds), int64(24+48+3+2*(24+16)); got != want {
		t.Fatalf("size %d, want %d", got, want)
	}
}

// Runs over one cached dataset at once see the same answer (run with -race).
func TestConcurrentRuns(t *testing.T) {
	t.Parallel()
	ds := seq(2000, 7)
	q, _ := Parse("SELECT m, count(*), sum(i), stddev(i) WHERE i > 100 GROUP BY m")
	want, _ := q.Run(ds, Policy{})
	var wg sync.WaitGroup
	hashes := make([]string, 8)
	for w := range hashes {
		wg.Go(func() {
			r, err := q.Run(ds, Policy{})
			if err == nil {
				hashes[w] = r.Hash().Hex()
			}
		})
	}
	wg.Wait()
	for w, h := range hashes {
		if h != want.Hash().Hex() {
			t.Fatalf("run %d: %s, want %s", w, h, want.Hash().Hex())
		}
	}
}
