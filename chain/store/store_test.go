package store

import (
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	bolt "go.etcd.io/bbolt"

	"github.com/vsc-labs/vsc/chain"
	"github.com/vsc-labs/vsc/chain/state"
	"github.com/vsc-labs/vsc/chain/tx"
	"github.com/vsc-labs/vsc/internal/codes"
)

// TestDiffsAndSnapshots: the state read back (snapshot + diffs) equals the
// state written, across snapshots, deletes, a failed commit and a reopen;
// the tx index survives the reopen.
func TestDiffsAndSnapshots(t *testing.T) {
	t.Parallel()
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

// The tx index lives on disk: a failed commit leaves no entry, and a
// database written before the index existed is indexed at open.
func TestTxIndexOnDisk(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "chain.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.InitGenesis([]byte("{}"), &chain.Block{Header: &chain.Header{}}, nil); err != nil {
		t.Fatal(err)
	}
	k, _ := crypto.GenerateKey()
	var txs []*tx.Tx
	for h := uint64(1); h <= 1500; h++ {
		t1, _ := tx.New(1, h, big.NewInt(1), &tx.Transfer{Amount: big.NewInt(int64(h))})
		t1.Sign(k)
		t2, _ := tx.New(1, h, big.NewInt(2), &tx.Transfer{Amount: big.NewInt(int64(h))})
		t2.Sign(k)
		txs = append(txs, t1, t2)
		if err := s.CommitBlock(&chain.Block{Header: &chain.Header{Height: h}, Txs: []*tx.Tx{t1, t2}}, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	lost, _ := tx.New(1, 9999, big.NewInt(1), &tx.Transfer{Amount: big.NewInt(1)})
	lost.Sign(k)
	s.FailCommit = func(uint64) error { return errors.New("crash") }
	if err := s.CommitBlock(&chain.Block{Header: &chain.Header{Height: 1501}, Txs: []*tx.Tx{lost}}, nil, nil); err == nil {
		t.Fatal("failed commit reported success")
	}
	if _, _, err := s.TxLocation(lost.Hash()); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the tx of a rolled-back block is indexed: %v", err)
	}
	// as if written by a version without the on-disk index
	if err := s.db.Update(func(btx *bolt.Tx) error {
		if err := btx.DeleteBucket(bTxIndex); err != nil {
			return err
		}
		if _, err := btx.CreateBucket(bTxIndex); err != nil {
			return err
		}
		return btx.Bucket(bMeta).Delete(kIndexed)
	}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i, x := range txs {
		h, idx, err := s.TxLocation(x.Hash())
		if err != nil || h != uint64(i/2+1) || idx != uint32(i%2) {
			t.Fatalf("tx %d: at %d/%d (%v), want %d/%d", i, h, idx, err, i/2+1, i%2)
		}
	}
}

// TestReceiptNotes: a receipt's words (its Detail and its events') come
// back with it, stored apart from what the receipt root covers.
func TestReceiptNotes(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "chain.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.InitGenesis([]byte("{}"), &chain.Block{Header: &chain.Header{}}, nil); err != nil {
		t.Fatal(err)
	}
	rs := []*chain.Receipt{
		{Kind: tx.KindTransfer, Status: chain.StatusSuccess, Fee: big.NewInt(1), Events: []chain.Event{{Type: "transfer"}}},
		{Kind: tx.KindAnchorBatch, Status: chain.StatusFailed, Fee: big.NewInt(2), Code: codes.NoQuorum,
			Detail: "quorum: approving stake is below 2/3 of the iDAO's stake: approving 1 of 3",
			Events: []chain.Event{{Type: "anchored"}, {Type: "anchor_skipped", Detail: "digest already anchored"}}},
	}
	roots := []common.Hash{chain.ReceiptHash(rs[0]), chain.ReceiptHash(rs[1])}
	if err := s.CommitBlock(&chain.Block{Header: &chain.Header{Height: 1}}, rs, nil); err != nil {
		t.Fatal(err)
	}
	got, err := s.Receipts(1)
	if err != nil {
		t.Fatal(err)
	}
	if got[1].Detail != rs[1].Detail || got[1].Events[1].Detail != rs[1].Events[1].Detail || got[1].Events[0].Detail != "" || got[0].Detail != "" {
		t.Fatalf("notes lost: %+v", got)
	}
	for i := range got {
		if chain.ReceiptHash(got[i]) != roots[i] {
			t.Fatalf("receipt %d: its hash covers its words", i)
		}
	}
	reworded := *rs[1]
	reworded.Detail = "another sentence"
	if chain.ReceiptHash(&reworded) != roots[1] {
		t.Fatal("rewording a failure changes the receipt's hash")
	}
}
