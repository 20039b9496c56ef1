package merkle

import (
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

func leaves(n int) []common.Hash {
	out := make([]common.Hash, n)
	for i := range out {
		out[i] = crypto.Keccak256Hash([]byte{byte(i), byte(i >> 8)})
	}
	return out
}

func TestEveryLeafProvesOnlyAtItsPosition(t *testing.T) {
	t.Parallel()
	for _, n := range []int{1, 2, 3, 5, 8, 13, 64, 100} {
		ls := leaves(n)
		root, paths := Build(ls)
		for i := range ls {
			if got, ok := Root(ls[i], uint32(i), uint32(n), paths[i]); !ok || got != root {
				t.Fatalf("n=%d leaf %d does not prove", n, i)
			}
			if n > 1 {
				j := (i + 1) % n
				if got, ok := Root(ls[i], uint32(j), uint32(n), paths[i]); ok && got == root {
					t.Fatalf("n=%d leaf %d proves at position %d", n, i, j)
				}
				if got, ok := Root(ls[j], uint32(i), uint32(n), paths[i]); ok && got == root {
					t.Fatalf("n=%d leaf %d's path proves leaf %d", n, i, j)
				}
			}
		}
	}
	if _, ok := Root(common.Hash{}, 3, 3, nil); ok {
		t.Fatal("index past the batch accepted")
	}
}
