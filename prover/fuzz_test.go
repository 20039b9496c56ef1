package prover

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
)

// Garbage never panics the verifying-key decoder.
func FuzzParseVerifyingKey(f *testing.F) {
	k := testKeys(f, shapeSmall)
	f.Add(k.VK.Bytes())
	f.Add([]byte(vkMagic))
	f.Fuzz(func(t *testing.T, b []byte) {
		vk, err := ParseVerifyingKey(b)
		if err == nil && vk.Hash != k.VK.Hash {
			// another well-formed key is fine; it must re-encode to itself
			if string(vk.Bytes()) != string(b) {
				t.Fatal("accepted a non-canonical key")
			}
		}
	})
}

// Garbage evidence never panics DecodeEvidence or VerifyEvidence, and is
// never accepted.
func FuzzVerifyEvidence(f *testing.F) {
	k := testKeys(f, shapeSmall)
	ds := rangedDataset(rand.New(rand.NewPCG(11, 12)), 5, shapeSmall)
	var proofs []ChunkProof
	for i := range Chunks(ds.Len(), shapeSmall.Chunk) {
		cp, err := ProveChunk(k, ds, i)
		if err != nil {
			f.Fatal(err)
		}
		proofs = append(proofs, *cp)
	}
	ev, err := Assemble(k.VK.Hash, shapeSmall.Chunk, proofs)
	if err != nil {
		f.Fatal(err)
	}
	good, _ := json.Marshal(ev)
	f.Add(good)
	f.Add([]byte(`{"chunks":[{"index":-1,"count":-3,"sums":["x"],"proof":"0x00"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := DecodeEvidence(b)
		if err != nil {
			return
		}
		sub := subFor(ds)
		if _, err := VerifyEvidence(k.VK, ev, sub); err == nil && string(b) != string(good) {
			// only proofs of this dataset can pass; any accepted variant must carry its facts
			if ev.Count != uint64(ds.Len()) {
				t.Fatalf("accepted evidence with count %d", ev.Count)
			}
		}
	})
}
