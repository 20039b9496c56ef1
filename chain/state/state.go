// Package state is the chain's world state: a flat key/value map for reads
// and a state root that authenticates every key.
//
// The root is that of a compressed sparse binary Merkle tree over
// sha256(key) (see smt.go). Updates of a block are applied as one batch
// whose two halves are built and hashed in parallel near the top of the
// tree, so hashing scales with cores instead of becoming the serial tail of
// parallel execution. A Proof carries the sibling hashes along the key's
// path, so anyone holding a state root (from a header signed by the
// sequencer) can check a value, or its absence, offline.
package state

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"slices"
	"sync"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
)

// ErrBadProof is returned for a proof that does not check.
var ErrBadProof = errors.New("state: proof does not verify")

// Write is one state change: Val nil deletes. Path is sha256(Key).
type Write struct {
	Key  string
	Path common.Hash
	Val  []byte
}

// PathOf returns the tree path of a key.
func PathOf(key string) common.Hash { return sha256.Sum256([]byte(key)) }

// NewWrite builds a Write, hashing the key.
func NewWrite(key string, val []byte) Write {
	return Write{Key: key, Path: PathOf(key), Val: val}
}

// State is the world state at the last committed block. Reads may run
// concurrently with each other and with Stage; Commit takes the write lock.
// Only one goroutine (the block producer) may Stage and Commit.
type State struct {
	mu   sync.RWMutex
	kv   map[string][]byte
	tree *node
}

// New returns an empty state.
func New() *State { return &State{kv: make(map[string][]byte)} }

// Load builds a state from every key/value pair, hashing with workers.
func Load(kv map[string][]byte, workers int) *State {
	s := New()
	ws := make([]Write, 0, len(kv))
	for k, v := range kv {
		ws = append(ws, Write{Key: k, Val: v})
	}
	parallel(len(ws), workers, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			ws[i].Path = PathOf(ws[i].Key)
		}
	})
	s.Commit(s.Stage(ws, workers))
	return s
}

// Get returns the value of key, or nil. Safe for concurrent use.
func (s *State) Get(key string) []byte {
	s.mu.RLock()
	v := s.kv[key]
	s.mu.RUnlock()
	return v
}

// Unlocked returns a reader without locking, for block execution, which
// runs while no Commit can happen.
func (s *State) Unlocked() Reader { return unlocked{s.kv} }

// Reader reads state values.
type Reader interface{ Get(key string) []byte }

type unlocked struct{ kv map[string][]byte }

func (u unlocked) Get(key string) []byte { return u.kv[key] }

// Root is the state root.
func (s *State) Root() common.Hash {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return hashOf(s.tree)
}

// Len is the number of keys.
func (s *State) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.kv)
}

// Range calls f for every key with the given prefix (in no order) until f
// returns false. f must not call back into s.
func (s *State) Range(prefix string, f func(key string, val []byte) bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for k, v := range s.kv {
		if len(k) >= len(prefix) && k[:len(prefix)] == prefix {
			if !f(k, v) {
				return
			}
		}
	}
}

// Staged is a computed but uncommitted next state.
type Staged struct {
	Writes []Write
	Root   common.Hash
	tree   *node
}

// Stage computes the state root after writes without changing s, hashing
// with up to workers goroutines. Writes must have unique keys.
func (s *State) Stage(writes []Write, workers int) *Staged {
	us := make([]upd, len(writes))
	parallel(len(writes), workers, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			w := &writes[i]
			us[i] = upd{path: w.Path, del: w.Val == nil}
			if w.Val != nil {
				us[i].vh = sha256.Sum256(w.Val)
			}
		}
	})
	us = sortUpds(us)
	s.mu.RLock()
	cur := s.tree
	s.mu.RUnlock()
	t := update(cur, 0, us, workers)
	return &Staged{Writes: writes, Root: hashOf(t), tree: t}
}

// sortUpds sorts by path. Sorting small (prefix, index) pairs and then
// gathering is several times faster than swapping 65-byte structs.
func sortUpds(us []upd) []upd {
	type ord struct {
		k uint64
		i int32
	}
	os := make([]ord, len(us))
	for i := range us {
		os[i] = ord{binary.BigEndian.Uint64(us[i].path[:8]), int32(i)}
	}
	slices.SortFunc(os, func(a, b ord) int {
		if a.k != b.k {
			return cmp.Compare(a.k, b.k)
		}
		return bytes.Compare(us[a.i].path[:], us[b.i].path[:])
	})
	out := make([]upd, len(us))
	for j, o := range os {
		out[j] = us[o.i]
	}
	return out
}

// Commit makes a staged state current.
func (s *State) Commit(st *Staged) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, w := range st.Writes {
		if w.Val == nil {
			delete(s.kv, w.Key)
		} else {
			s.kv[w.Key] = w.Val
		}
	}
	s.tree = st.tree
}

// Proof shows that Key has Value under a state root, or, with Value empty,
// that Key is absent (then Other may hold the leaf found in its place).
type Proof struct {
	Key      hexutil.Bytes `json:"key"`
	Value    hexutil.Bytes `json:"value,omitempty"`
	Siblings []common.Hash `json:"siblings"`
	Other    *OtherLeaf    `json:"other,omitempty"`
}

// OtherLeaf is the leaf that sits where an absent key would be.
type OtherLeaf struct {
	Path      common.Hash `json:"path"`
	ValueHash common.Hash `json:"value_hash"`
}

// Prove returns the proof of key at the current root, and that root.
func (s *State) Prove(key string) (*Proof, common.Hash) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	path := PathOf(key)
	sibs, end := smtProve(s.tree, path)
	p := &Proof{Key: []byte(key), Siblings: make([]common.Hash, len(sibs))}
	for i, h := range sibs {
		p.Siblings[i] = h
	}
	if end != nil {
		if end.path == path {
			p.Value = common.CopyBytes(s.kv[key])
		} else {
			p.Other = &OtherLeaf{Path: end.path, ValueHash: end.vh}
		}
	}
	return p, hashOf(s.tree)
}

// Verify checks p against root and returns the proven value (nil = absent).
func (p *Proof) Verify(root common.Hash) ([]byte, error) {
	sibs := make([]hash32, len(p.Siblings))
	for i, h := range p.Siblings {
		sibs[i] = h
	}
	var val []byte
	if len(p.Value) > 0 {
		val = p.Value
	}
	var other *upd
	if p.Other != nil {
		other = &upd{path: p.Other.Path, vh: p.Other.ValueHash}
	}
	if err := smtVerify(root, PathOf(string(p.Key)), val, sibs, other); err != nil {
		return nil, err
	}
	return val, nil
}

// parallel splits [0,n) into workers chunks and runs f on each.
func parallel(n, workers int, f func(lo, hi int)) {
	if workers < 1 {
		workers = 1
	}
	if workers == 1 || n < 2*workers {
		f(0, n)
		return
	}
	var wg sync.WaitGroup
	chunk := (n + workers - 1) / workers
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		wg.Add(1)
		go func() { defer wg.Done(); f(lo, hi) }()
	}
	wg.Wait()
}
