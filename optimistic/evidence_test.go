package optimistic

import (
	"encoding/json"
	"errors"
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/tee"
	"github.com/vsc-labs/vsc/tee/facts"
)

// The optimistic result and the TEE's agree where they overlap: same facts
// digest, same anchored result digest.
func TestAnchorDigestIsTheTEEDigest(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(23, 24))
	ds := randDataset(rng, 77, 5, 0.3)
	k := honest(t, ds)
	c, err := NewClaim(execAddr, k.ClaimRequest(subID, ds.Fields, facts.DefaultParams, big.NewInt(1000)), 1, testParams())
	if err != nil {
		t.Fatal(err)
	}
	f, _ := facts.Compute(ds, facts.DefaultParams)
	if c.AnchorDigest() != tee.ResultDigest(subID, k.Commitment, f.Digest()) {
		t.Fatal("anchor digest differs from the TEE's result digest")
	}
	if err := CheckFinal(c, subID, k.Commitment, c.AnchorDigest()); !errors.Is(err, ErrNotFinal) {
		t.Fatalf("open claim: %v", err)
	}
	if _, err := c.Finalize(c.WindowEnd); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		sub, com, dig common.Hash
		want          error
	}{
		{subID, k.Commitment, c.AnchorDigest(), nil},
		{common.Hash{1}, k.Commitment, c.AnchorDigest(), ErrClaimMismatch},
		{subID, common.Hash{2}, c.AnchorDigest(), ErrClaimMismatch},
		{subID, k.Commitment, c.Result, ErrDigestMismatch},
	} {
		if err := CheckFinal(c, tc.sub, tc.com, tc.dig); !errors.Is(err, tc.want) {
			t.Fatalf("CheckFinal: %v, want %v", err, tc.want)
		}
	}
}

// Claims and games arrive as JSON from the chain API: garbage never panics
// and what decodes re-encodes to an equal value.
func FuzzClaimJSON(f *testing.F) {
	c := &Claim{ID: common.Hash{1}, Fields: []string{"a"}, Bond: big.NewInt(5), Params: DefaultParams(), Status: StatusClaimed}
	b, _ := json.Marshal(c)
	f.Add(b)
	g := &Game{ID: common.Hash{2}, Bond: big.NewInt(7), Turn: Executor, Status: GameActive}
	b, _ = json.Marshal(g)
	f.Add(b)
	f.Add([]byte(`{"bond":"x"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var c Claim
		if json.Unmarshal(b, &c) == nil {
			out, err := json.Marshal(c)
			if err != nil {
				t.Fatal(err)
			}
			var c2 Claim
			if err := json.Unmarshal(out, &c2); err != nil {
				t.Fatalf("re-decode: %v", err)
			}
		}
		var g Game
		if json.Unmarshal(b, &g) == nil {
			if _, err := json.Marshal(g); err != nil {
				t.Fatal(err)
			}
		}
	})
}
