package quorum

import (
	"errors"
	"fmt"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/internal/eip712"
)

func batchOf(n int) []*Vote {
	vs := make([]*Vote, n)
	for i := range vs {
		sub := common.BigToHash(common.Big1)
		sub[0] = byte(i)
		sub[1] = byte(i >> 8)
		vs[i] = &Vote{IDAO: "d", Submission: sub, ResultDigest: crypto.Keccak256Hash(sub[:]), Approve: i%3 != 2}
		if !vs[i].Approve {
			vs[i].Reason = fmt.Sprint("refused ", i)
		}
	}
	return vs
}

func TestSignBatchEveryVoteRecovers(t *testing.T) {
	t.Parallel()
	k, _ := crypto.ToECDSA(crypto.Keccak256([]byte("member")))
	want := crypto.PubkeyToAddress(k.PublicKey)
	for _, n := range []int{1, 2, 3, 4, 5, 7, 8, 9, 33} {
		vs := batchOf(n)
		if err := SignBatch(k, 7, vs); err != nil {
			t.Fatal(err)
		}
		for i, v := range vs {
			if (n == 1) != (v.Batch == nil) {
				t.Fatalf("n=%d: batch proof set %v", n, v.Batch != nil)
			}
			if err := v.Verify(7); err != nil || v.Member != want {
				t.Fatalf("n=%d vote %d: %v", n, i, err)
			}
			if n > 1 && string(v.Signature) != string(vs[0].Signature) {
				t.Fatalf("n=%d: one signature per batch", n)
			}
		}
	}
}

func TestBatchProofTampering(t *testing.T) {
	t.Parallel()
	k, _ := crypto.ToECDSA(crypto.Keccak256([]byte("member")))
	vs := batchOf(5)
	if err := SignBatch(k, 7, vs); err != nil {
		t.Fatal(err)
	}
	cp := func(v *Vote) *Vote {
		c := *v
		b := *v.Batch
		b.Path = append([]common.Hash(nil), b.Path...)
		c.Batch = &b
		return &c
	}
	cases := map[string]func(v *Vote){
		"other digest":       func(v *Vote) { v.ResultDigest[0] ^= 1 },
		"approve flipped":    func(v *Vote) { v.Approve = !v.Approve },
		"other index":        func(v *Vote) { v.Batch.Index = 2 },
		"index past size":    func(v *Vote) { v.Batch.Index = 9 },
		"other size":         func(v *Vote) { v.Batch.Size = 6 },
		"path element":       func(v *Vote) { v.Batch.Path[0][3] ^= 1 },
		"path too short":     func(v *Vote) { v.Batch.Path = v.Batch.Path[:len(v.Batch.Path)-1] },
		"path too long":      func(v *Vote) { v.Batch.Path = append(v.Batch.Path, common.Hash{}) },
		"other root":         func(v *Vote) { v.Batch.Root[0] ^= 1 },
		"other chain":        func(v *Vote) {},
		"proof of a sibling": func(v *Vote) { v.Batch = cp(vs[0]).Batch },
	}
	for name, mutate := range cases {
		v := cp(vs[1])
		mutate(v)
		chain := uint64(7)
		if name == "other chain" {
			chain = 8
		}
		a, err := v.Recover(chain)
		if err == nil && a == v.Member {
			t.Errorf("%s: the tampered vote still recovers to the member", name)
		}
		if err != nil && !errors.Is(err, ErrBadSignature) {
			t.Errorf("%s: %v, want ErrBadSignature", name, err)
		}
	}
}

func TestBatchDigestMatchesWallets(t *testing.T) {
	t.Parallel()
	root := common.HexToHash("0x1234")
	want, err := eip712.HashTypedData(BatchTypedData(7, root, 5))
	if err != nil {
		t.Fatal(err)
	}
	if BatchDigest(7, root, 5) != want {
		t.Fatal("BatchDigest differs from the typed-data hash a wallet signs")
	}
}

func TestBatchedVotesInQCAndEquivocation(t *testing.T) {
	t.Parallel()
	set := stakes{}
	var keysOf []*Vote
	sub, dig := common.HexToHash("0xaa"), common.HexToHash("0xbb")
	qc := &QC{IDAO: "d", Submission: sub, ResultDigest: dig}
	for i := 0; i < 3; i++ {
		k, _ := crypto.ToECDSA(crypto.Keccak256([]byte(fmt.Sprint("q", i))))
		vs := batchOf(4)
		vs[i] = &Vote{IDAO: "d", Submission: sub, ResultDigest: dig, Approve: true}
		if err := SignBatch(k, 1, vs); err != nil {
			t.Fatal(err)
		}
		set[vs[i].Member] = common.Big1
		qc.Votes = append(qc.Votes, *vs[i])
		keysOf = append(keysOf, vs[i])
	}
	if _, err := CheckQC(qc, 1, set); err != nil {
		t.Fatalf("QC of batched votes: %v", err)
	}
	// the same member signs another digest for the submission in another batch
	k0, _ := crypto.ToECDSA(crypto.Keccak256([]byte("q0")))
	other := batchOf(3)
	other[1] = &Vote{IDAO: "d", Submission: sub, ResultDigest: common.HexToHash("0xcc"), Approve: true}
	if err := SignBatch(k0, 1, other); err != nil {
		t.Fatal(err)
	}
	if m, err := CheckEquivocation(keysOf[0], other[1], 1); err != nil || m != keysOf[0].Member {
		t.Fatalf("equivocation across batches: %v", err)
	}
}
