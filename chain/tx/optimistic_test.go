package tx

import (
	"math/big"
	"reflect"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/internal/submission"
	"github.com/vsc-labs/vsc/optimistic"
	"github.com/vsc-labs/vsc/tee/facts"
)

// Every optimistic action survives the trip action → body → tx bytes →
// body, signed values and optional reveals included.
func TestOptimisticBodiesRoundTrip(t *testing.T) {
	t.Parallel()
	rev := optimistic.Reveal{Index: 3, Hash: common.Hash{1}, Proof: []common.Hash{{2}, {3}}}
	sub := submission.Submission{IDAO: "x", Mode: "optimistic", Class: "dataset", Records: 9, Nonce: 2}
	actions := []optimistic.Action{
		{Kind: optimistic.ActClaim, Claim: &optimistic.ClaimRequest{Submission: common.Hash{4}, Fields: []string{"a", "b"},
			FactsParams: facts.DefaultParams, Result: common.Hash{5}, TraceRoot: common.Hash{6}, ResultProof: []common.Hash{{7}}, Bond: big.NewInt(1000)},
			Signed: &optimistic.SignedSubmission{Submission: sub, Signature: make([]byte, 65)}},
		{Kind: optimistic.ActChallenge, Challenge: &optimistic.ChallengeRequest{Claim: common.Hash{8}, Bond: big.NewInt(5), Root: common.Hash{9}, Final: rev, Mid: &rev}},
		{Kind: optimistic.ActChallenge, Challenge: &optimistic.ChallengeRequest{Claim: common.Hash{8}, Bond: big.NewInt(5), Root: common.Hash{9}, Final: rev}},
		{Kind: optimistic.ActMove, ClaimID: common.Hash{8}, Challenger: common.Address{1}, Move: &optimistic.Move{Answer: rev, Next: &rev}},
		{Kind: optimistic.ActMove, ClaimID: common.Hash{8}, Challenger: common.Address{1}, Move: &optimistic.Move{Answer: rev}},
		{Kind: optimistic.ActStep, ClaimID: common.Hash{8}, Executor: common.Address{2}, Challenger: common.Address{1},
			Step: &optimistic.StepProof{Prev: []byte("p"), Record: []int64{-5, 1 << 62, -1 << 63}, Path: []common.Hash{{1}}, Dup: true, DupIndex: 4, DupPath: []common.Hash{}}},
		{Kind: optimistic.ActTimeout, ClaimID: common.Hash{8}, Executor: common.Address{2}, Challenger: common.Address{1}},
		{Kind: optimistic.ActCancel, ClaimID: common.Hash{8}, Executor: common.Address{2}, Challenger: common.Address{1}},
		{Kind: optimistic.ActFinalize, ClaimID: common.Hash{8}, Executor: common.Address{2}},
	}
	for _, a := range actions {
		b, err := FromAction(&a)
		if err != nil {
			t.Fatalf("%s: %v", a.Kind, err)
		}
		y, err := Decode(signed(t, b).Encode())
		if err != nil {
			t.Fatalf("%s: %v", a.Kind, err)
		}
		got, err := y.DecodeBody()
		if err != nil {
			t.Fatalf("%s: %v", a.Kind, err)
		}
		if s, ok := got.(*OptStep); ok {
			if p := s.Proof(); !reflect.DeepEqual(p.Record, a.Step.Record) || !p.Dup || p.DupIndex != 4 {
				t.Fatalf("step proof changed: %+v", p)
			}
			continue
		}
		if c, ok := got.(*OptClaim); ok {
			if r := c.Request(3); r.FactsParams != facts.DefaultParams || r.N != 9 {
				t.Fatalf("claim request changed: %+v", r)
			}
		}
		if !reflect.DeepEqual(got, b) {
			t.Fatalf("%s: body changed:\n%+v\n%+v", a.Kind, got, b)
		}
	}
	if _, err := FromAction(&optimistic.Action{Kind: "nope"}); err == nil {
		t.Fatal("unknown action encoded")
	}
}

// Optimistic bodies come from anyone: garbage never panics, and what
// decodes converts to the game's values without panicking either.
func FuzzOptimisticBodies(f *testing.F) {
	b, _ := FromAction(&optimistic.Action{Kind: optimistic.ActStep, Step: &optimistic.StepProof{Record: []int64{-1}, Path: []common.Hash{{1}}}})
	raw := signed(f, b).Encode()
	f.Add(raw)
	f.Add([]byte{1, 0xc0})
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, k := range []Kind{KindOptClaim, KindOptChallenge, KindOptMove, KindOptStep, KindOptTimeout, KindOptCancel, KindOptFinalize} {
			x := &Tx{Kind: k, Body: data}
			body, err := x.DecodeBody()
			if err != nil {
				continue
			}
			switch b := body.(type) {
			case *OptClaim:
				_ = b.Request(1)
			case *OptChallenge:
				_ = b.Request()
			case *OptStep:
				_, _ = optimistic.CheckStep(common.Hash{}, 10, 3, common.Hash{}, b.Proof())
			}
		}
	})
}
