package state

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/ethereum/go-ethereum/common"
)

func fuzzState() *State {
	s := New()
	var ws []Write
	for i := range 40 {
		ws = append(ws, NewWrite(fmt.Sprint("k", i), []byte(fmt.Sprint("v", i))))
	}
	s.Commit(s.Stage(ws, 1))
	return s
}

func flat(hs []common.Hash) []byte {
	var out []byte
	for _, h := range hs {
		out = append(out, h[:]...)
	}
	return out
}

// FuzzProofVerify: a state proof of any shape never panics the check, and
// whatever verifies against the root proves the state's true value (or the
// true absence) of its key.
func FuzzProofVerify(f *testing.F) {
	st := fuzzState()
	root := st.Root()
	for _, k := range []string{"k1", "k17", "absent", "k39x"} {
		p, _ := st.Prove(k)
		var op, ovh []byte
		if p.Other != nil {
			op, ovh = p.Other.Path[:], p.Other.ValueHash[:]
		}
		f.Add([]byte(k), []byte(p.Value), flat(p.Siblings), op, ovh)
	}
	f.Fuzz(func(t *testing.T, key, value, sibs, otherPath, otherVH []byte) {
		p := &Proof{Key: key, Value: value}
		for i := 0; i+32 <= len(sibs) && len(p.Siblings) < 300; i += 32 {
			p.Siblings = append(p.Siblings, common.BytesToHash(sibs[i:i+32]))
		}
		if len(otherPath) > 0 {
			p.Other = &OtherLeaf{Path: common.BytesToHash(otherPath), ValueHash: common.BytesToHash(otherVH)}
		}
		got, err := p.Verify(root)
		if err != nil {
			return
		}
		if want := st.Get(string(key)); !bytes.Equal(got, want) {
			t.Fatalf("key %q: proved %q, the state holds %q", key, got, want)
		}
	})
}
