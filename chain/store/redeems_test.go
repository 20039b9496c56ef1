package store

import (
	"errors"
	"math/big"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	bolt "go.etcd.io/bbolt"

	"github.com/vsc-labs/vsc/chain"
	"github.com/vsc-labs/vsc/chain/tx"
)

// redeemReceipt is the receipt of a dat_redeem of units of token (class),
// by sender, successful or not.
func redeemReceipt(i uint32, class, token common.Hash, sender common.Address, units uint64, ok bool) *chain.Receipt {
	r := &chain.Receipt{Index: i, Kind: tx.KindDATRedeem, Sender: sender, Status: chain.StatusFailed}
	if ok {
		r.Status = chain.StatusSuccess
		r.Events = []chain.Event{{Type: "dat_redeemed", Attrs: []chain.Attr{{Key: "class", Value: class.Hex()}, {Key: "token", Value: token.Hex()},
			{Key: "owner", Value: sender.Hex()}, {Key: "units", Value: strconv.FormatUint(units, 10)}, {Key: "left", Value: "0"}}}}
	}
	return r
}

// TestRedeemIndex: the per-class redeem index lists a class's successful
// redeems only, newest first, paged without repeats or gaps; a failed
// commit leaves no entry; a database without the index (written before
// it, or whose index was lost) is indexed again at open, to the same list.
func TestRedeemIndex(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "chain.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.InitGenesis([]byte("{}"), &chain.Block{Header: &chain.Header{}}, nil); err != nil {
		t.Fatal(err)
	}
	classA, classB := common.HexToHash("0xa"), common.HexToHash("0xb")
	app := common.HexToAddress("0xa99")
	var wantA []common.Hash // tx hashes of class A's redeems, oldest first
	for h := uint64(1); h <= 1100; h++ {
		rs := []*chain.Receipt{redeemReceipt(0, classA, common.HexToHash("0x1"), app, h, true)}
		wantA = append(wantA, rs[0].TxHash)
		if h%3 == 0 {
			rs = append(rs, redeemReceipt(1, classB, common.HexToHash("0x2"), app, 1, true), redeemReceipt(2, classA, common.HexToHash("0x1"), app, 9, false))
		}
		for i := range rs {
			rs[i].TxHash = common.BigToHash(new(big.Int).SetUint64(h*10 + uint64(i)))
		}
		wantA[len(wantA)-1] = rs[0].TxHash
		if err := s.CommitBlock(&chain.Block{Header: &chain.Header{Height: h, Time: 1000 * h}}, rs, nil); err != nil {
			t.Fatal(err)
		}
	}
	s.FailCommit = func(uint64) error { return errors.New("crash") }
	lost := redeemReceipt(0, classA, common.HexToHash("0x1"), app, 5, true)
	lost.TxHash = common.HexToHash("0x1057")
	if err := s.CommitBlock(&chain.Block{Header: &chain.Header{Height: 1101}}, []*chain.Receipt{lost}, nil); err == nil {
		t.Fatal("failed commit reported success")
	}
	s.FailCommit = nil

	all := func(s *Store, class common.Hash, limit int) []Redeem {
		var out []Redeem
		var before []byte
		for {
			rs, more, err := s.Redeems(class, before, limit)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, rs...)
			if !more {
				return out
			}
			if len(rs) != limit {
				t.Fatalf("a page of %d before the last, limit %d", len(rs), limit)
			}
			before = rs[len(rs)-1].Key()
		}
	}
	check := func(s *Store) {
		t.Helper()
		got := all(s, classA, 97)
		if len(got) != len(wantA) {
			t.Fatalf("class A has %d redeems listed, want %d", len(got), len(wantA))
		}
		for i, r := range got {
			want := wantA[len(wantA)-1-i]
			h := uint64(len(wantA) - i)
			if r.Tx != want || r.Height != h || r.Units != h || r.Time != 1000*h || r.Redeemer != app || r.Class != classA || r.Token != common.HexToHash("0x1") {
				t.Fatalf("redeem %d: %+v, want tx %s at %d", i, r, want, h)
			}
		}
		if b := all(s, classB, 1000); len(b) != 1100/3 || b[0].Height != 1098 {
			t.Fatalf("class B: %d redeems, newest at %d", len(b), b[0].Height)
		}
		if none := all(s, common.HexToHash("0xc"), 10); len(none) != 0 {
			t.Fatalf("a class with no redeems lists %d", len(none))
		}
		one, more, _ := s.Redeems(classA, nil, 1)
		if len(one) != 1 || !more || one[0].Height != 1100 {
			t.Fatalf("newest redeem %+v (more %v)", one, more)
		}
	}
	check(s)
	if _, _, err := s.Redeems(classA, []byte{1, 2}, 10); err == nil {
		t.Fatal("a short cursor was taken")
	}
	// as if written by a version without the index
	if err := s.db.Update(func(btx *bolt.Tx) error {
		if err := btx.DeleteBucket(bRedeems); err != nil {
			return err
		}
		return btx.Bucket(bMeta).Delete(kRedeems)
	}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	check(s)
	if slices.ContainsFunc(all(s, classA, 1000), func(r Redeem) bool { return r.Tx == lost.TxHash }) {
		t.Fatal("the redeem of a rolled-back block is indexed")
	}
}
