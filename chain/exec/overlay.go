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
}

func (v *txView) allow(key string, write bool) bool {
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
}

func (v *txView) flush() {
	for i, k := range v.keys {
		v.parent.Writes[k] = v.vals[i]
	}
}
