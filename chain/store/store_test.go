package store

import (
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/chain"
	"github.com/vsc-labs/vsc/chain/state"
	"github.com/vsc-labs/vsc/chain/tx"
)

// TestDiffsAndSnapshots: the state read back (snapshot + diffs) equals the
// state written, across snapshots, deletes, a failed commit and a reopen;
// the tx index survives the reopen.
func TestDiffsAndSnapshots(t *testing.T) {
	path := filepath.Join(t.TempDir(), "chain.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	k, _ := crypto.GenerateKey()
	want := map[string][]byte{}
	rng := rand.New(rand.NewPCG(1, 1))
	var lastTx *tx.Tx
	if err := s.InitGenesis([]byte("{}"), &chain.Block{Header: &chain.Header{}}, []state.Write{state.NewWrite("g", []byte("0"))}); err != nil {
		t.Fatal(err)
	}
	want["g"] = []byte("0")
	for h := uint64(1); h <= 3*SnapshotEvery+5; h++ {
		var ws []state.Write
		seen := map[string]bool{}
		for i := 0; i < 20; i++ {
			key := fmt.Sprint("k", rng.IntN(300))
			if seen[key] {
				continue
			}
			seen[key] = true
			if rng.IntN(4) == 0 {
				ws = append(ws, state.NewWrite(key, nil))
			} else {
				ws = append(ws, state.NewWrite(key, []byte(fmt.Sprint(h, i))))
			}
		}
		t1, _ := tx.New(1, h, big.NewInt(1), &tx.Transfer{Amount: big.NewInt(int64(h))})
		t1.Sign(k)
		blk := &chain.Block{Header: &chain.Header{Height: h}, Txs: []*tx.Tx{t1}}
		if h == SnapshotEvery-1 || h == 2*SnapshotEvery+3 {
			s.FailCommit = func(uint64) error { return errors.New("crash") }
			if err := s.CommitBlock(blk, nil, ws); err == nil {
				t.Fatal("failed commit reported success")
			}
			s.FailCommit = nil
		}
		if err := s.CommitBlock(blk, nil, ws); err != nil {
			t.Fatal(err)
		}
		for _, w := range ws {
			if w.Val == nil {
				delete(want, w.Key)
			} else {
				want[w.Key] = w.Val
			}
		}
		lastTx = t1
	}
	check := func(s *Store) {
		got, err := s.State()
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("%d keys, want %d", len(got), len(want))
		}
		for k, v := range want {
			if string(got[k]) != string(v) {
				t.Fatalf("key %s: %q, want %q", k, got[k], v)
			}
		}
		h, i, err := s.TxLocation(lastTx.Hash())
		if err != nil || h != 3*SnapshotEvery+5 || i != 0 {
			t.Fatalf("tx location %d %d %v", h, i, err)
		}
	}
	check(s)
	s.Close()
	s, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	check(s)
}
