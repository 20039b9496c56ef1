package exec

import (
	"fmt"

	"github.com/vsc-labs/vsc/chain/lanes"
	"github.com/vsc-labs/vsc/chain/state"
)

// Overlay is a lane's (or a sequential run's) pending writes over a base.
type Overlay struct {
	Base   state.Reader
	Writes map[string][]byte
}

// NewOverlay returns an empty overlay over base, sized for about hint keys.
func NewOverlay(base state.Reader, hint int) *Overlay {
	return &Overlay{Base: base, Writes: make(map[string][]byte, hint)}
}

// Get reads through the overlay.
func (o *Overlay) Get(key string) []byte {
	if v, ok := o.Writes[key]; ok {
		return v
	}
	return o.Base.Get(key)
}

// txView buffers one tx's writes and enforces its declared accesses: a
// read or write of an undeclared key fails the tx (bad), so lanes that
// were scheduled apart never touch the same key.
type txView struct {
	parent  *Overlay
	allowed []lanes.Access
	keys    []string
	vals    [][]byte
	bad     error
	// big txs (batches) index their accesses and writes, so that each
	// access is O(1) instead of a scan of thousands of keys
	allowIdx map[string]bool
	writeIdx map[string]int
}

// bigView is the access-list size from which a view indexes its keys.
const bigView = 32

func (v *txView) allow(key string, write bool) bool {
	if len(v.allowed) > bigView {
		if v.allowIdx == nil {
			v.allowIdx = make(map[string]bool, len(v.allowed))
			for _, a := range v.allowed {
				v.allowIdx[a.Key] = v.allowIdx[a.Key] || a.Write
			}
		}
		w, ok := v.allowIdx[key]
		return ok && (w || !write)
	}
	for _, a := range v.allowed {
		if a.Key == key {
			return a.Write || !write
		}
	}
	return false
}

func (v *txView) get(key string) []byte {
	if !v.allow(key, false) {
		v.bad = fmt.Errorf("%w: read %q", ErrUndeclaredAccess, key)
		return nil
	}
	if v.writeIdx != nil {
		if i, ok := v.writeIdx[key]; ok {
			return v.vals[i]
		}
		return v.parent.Get(key)
	}
	for i := len(v.keys) - 1; i >= 0; i-- {
		if v.keys[i] == key {
			return v.vals[i]
		}
	}
	return v.parent.Get(key)
}

func (v *txView) put(key string, val []byte) {
	if !v.allow(key, true) {
		v.bad = fmt.Errorf("%w: write %q", ErrUndeclaredAccess, key)
		return
	}
	v.keys = append(v.keys, key)
	v.vals = append(v.vals, val)
	if v.writeIdx == nil && len(v.keys) > bigView {
		v.writeIdx = make(map[string]int, 2*len(v.keys))
		for i, k := range v.keys {
			v.writeIdx[k] = i
		}
	} else if v.writeIdx != nil {
		v.writeIdx[key] = len(v.keys) - 1
	}
}

func (v *txView) flush() {
	for i, k := range v.keys {
		v.parent.Writes[k] = v.vals[i]
	}
}
