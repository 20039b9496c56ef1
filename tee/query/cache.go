package query

import (
	"container/list"
	"sync"

	"github.com/vsc-labs/vsc/internal/records"
)

// Cache keeps decrypted, parsed datasets in enclave memory so a repeated
// query skips decryption and parsing. It holds at most maxBytes (by the
// sizes given to Put) and evicts the least recently used first. It is safe
// for concurrent use. Datasets in it must not be modified.
type Cache struct {
	mu    sync.Mutex
	max   int64
	size  int64
	lru   *list.List // front: most recently used
	items map[string]*list.Element
}

type cacheEntry struct {
	key  string
	ds   *records.Dataset
	size int64
}

// NewCache returns a cache of at most maxBytes (0 or less: it keeps nothing).
func NewCache(maxBytes int64) *Cache {
	return &Cache{max: maxBytes, lru: list.New(), items: map[string]*list.Element{}}
}

// Get returns the dataset stored under key, marking it recently used.
func (c *Cache) Get(key string) (*records.Dataset, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.items[key]
	if !ok {
		return nil, false
	}
	c.lru.MoveToFront(e)
	return e.Value.(*cacheEntry).ds, true
}

// Put stores ds under key with its size in bytes (see DatasetSize),
// evicting the least recently used datasets to make room. A dataset larger
// than the whole cache is not stored.
func (c *Cache) Put(key string, ds *records.Dataset, size int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[key]; ok {
		c.remove(e)
	}
	if size > c.max || size < 0 {
		return
	}
	for c.size+size > c.max {
		c.remove(c.lru.Back())
	}
	c.items[key] = c.lru.PushFront(&cacheEntry{key: key, ds: ds, size: size})
	c.size += size
}

func (c *Cache) remove(e *list.Element) {
	ce := c.lru.Remove(e).(*cacheEntry)
	delete(c.items, ce.key)
	c.size -= ce.size
}

// Len and Bytes report how many datasets the cache holds and their size.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

// Bytes is the sum of the sizes of the datasets held.
func (c *Cache) Bytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.size
}

// DatasetSize estimates a dataset's memory: each record's slice header and
// values, and the field names.
func DatasetSize(ds *records.Dataset) int64 {
	n := int64(24 + 24*len(ds.Fields))
	for _, f := range ds.Fields {
		n += int64(len(f))
	}
	for _, r := range ds.Records {
		n += 24 + 8*int64(cap(r))
	}
	return n
}
