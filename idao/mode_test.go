package idao

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"

	"github.com/ethereum/go-ethereum/rlp"
)

func TestModesAndKinds(t *testing.T) {
	cases := []struct {
		mode  Mode
		kinds []Kind
	}{
		{ModeTEE, []Kind{KindTEE}},
		{ModeZK, []Kind{KindZK}},
		{ModeTEEZK, []Kind{KindTEE, KindZK}},
		{ModeOptimistic, []Kind{KindOptimistic}},
		{"zk+tee", nil},
		{"tee+optimistic", nil},
		{"", nil},
		{"TEE", nil},
	}
	for _, c := range cases {
		if got := c.mode.Kinds(); !slices.Equal(got, c.kinds) || c.mode.Valid() != (c.kinds != nil) {
			t.Errorf("%q: kinds %v valid %v, want %v", c.mode, got, c.mode.Valid(), c.kinds)
		}
		for _, k := range Kinds() {
			if c.mode.Needs(k) != slices.Contains(c.kinds, k) {
				t.Errorf("%q needs %s: %v", c.mode, k, c.mode.Needs(k))
			}
		}
	}
	if len(Modes()) != 4 || ModeList(Modes()) != "tee, zk, tee+zk or optimistic" {
		t.Fatalf("modes %v, listed %q", Modes(), ModeList(Modes()))
	}
	for _, k := range Kinds() {
		if !k.Valid() || !Mode(k).Valid() {
			t.Errorf("kind %s is not valid, or not a mode of its own", k)
		}
	}
	if Kind("vote").Valid() {
		t.Error("vote is a verification kind")
	}
	// the caller's copy is its own
	ModeTEEZK.Kinds()[0] = KindZK
	if ModeTEEZK.Kinds()[0] != KindTEE {
		t.Fatal("Kinds returned the table itself")
	}
}

// A mode is a string on every wire: the policy's JSON and RLP (chain
// state, txs) are those of a []string.
func TestModeEncodingIsAString(t *testing.T) {
	typed := Policy{Modes: []Mode{ModeTEEZK, ModeTEE}}
	raw, err := json.Marshal(typed)
	if err != nil || !bytes.Contains(raw, []byte(`"modes":["tee+zk","tee"]`)) {
		t.Fatalf("JSON %s: %v", raw, err)
	}
	a, err := rlp.EncodeToBytes([]Mode{ModeTEEZK, ModeTEE})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := rlp.EncodeToBytes([]string{"tee+zk", "tee"})
	if !bytes.Equal(a, b) {
		t.Fatalf("RLP of modes %x, of strings %x", a, b)
	}
	var back []Mode
	if err := rlp.DecodeBytes(b, &back); err != nil || !slices.Equal(back, typed.Modes) {
		t.Fatalf("decode %v: %v", back, err)
	}
}
