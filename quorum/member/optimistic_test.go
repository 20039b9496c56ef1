package member

import (
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/chain/node"
	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/internal/keys"
	"github.com/vsc-labs/vsc/internal/records"
	"github.com/vsc-labs/vsc/internal/submission"
	"github.com/vsc-labs/vsc/optimistic"
	"github.com/vsc-labs/vsc/quorum"
	"github.com/vsc-labs/vsc/tee"
	"github.com/vsc-labs/vsc/tee/facts"
)

// claimChain is a chain with an iDAO and optimistic claims.
type claimChain struct {
	chainState
	claims map[common.Hash]*optimistic.Claim
}

func (c claimChain) Claim(id common.Hash) (*optimistic.Claim, error) {
	if x, ok := c.claims[id]; ok {
		return x, nil
	}
	return nil, errors.New("no such claim")
}

// Members approve an optimistic submission only once its claim finalized on
// chain, and then sign the claim's anchor digest.
func TestMemberVotesOnFinalizedClaimsOnly(t *testing.T) {
	t.Parallel()
	key, _ := crypto.GenerateKey()
	enc, err := tee.OpenSim(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dao := demoIDAO(t, enc, key)
	dao.Policy.Modes = []idao.Mode{idao.ModeOptimistic}
	ds, _ := records.Parse([]byte("a,b\n1,2\n3,4\n1,2\n"))
	contributor, _ := crypto.GenerateKey()
	sub := submission.Submission{IDAO: "demo", Mode: "optimistic", Class: "dataset", Contributor: keys.Address(contributor),
		DataHash: common.Hash{1}, Commitment: records.Commitment(ds), Records: 3, Nonce: 1}
	sig, _ := sub.Sign(chainID, contributor)
	subID := sub.Digest(chainID)
	k, err := optimistic.Compute(ds, ds.Fields, facts.DefaultParams)
	if err != nil {
		t.Fatal(err)
	}
	c, err := optimistic.NewClaim(common.Address{0xe1}, k.ClaimRequest(subID, ds.Fields, facts.DefaultParams, big.NewInt(1000)), 1, optimistic.DefaultParams())
	if err != nil {
		t.Fatal(err)
	}
	other := c.Clone()
	other.ID, other.Submission = common.Hash{9}, common.Hash{8}
	other.Status = optimistic.StatusFinalized
	ch := claimChain{onChain(dao), map[common.Hash]*optimistic.Claim{c.ID: c, other.ID: other}}
	member := func() *Member {
		m, err := New(Config{Key: key, ChainID: chainID, DataDir: t.TempDir()}, ch, nil, noVKs{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		return m
	}
	raw := func(id common.Hash) []json.RawMessage { b, _ := json.Marshal(id); return []json.RawMessage{b} }
	req := &quorum.VoteRequest{IDAO: "demo", ChainID: chainID, SubmissionID: subID, Submission: sub, Signature: sig,
		Evidence: []quorum.EvidenceItem{{Kind: "optimistic", Data: raw(c.ID)}}}
	// The coordinator asks only after finalization: a member asked earlier
	// lags behind the chain, so it signs nothing and asks again later.
	if v, err := member().Decide(t.Context(), req); v != nil || !errors.Is(err, ErrCouldNotCheck) || !strings.Contains(err.Error(), "not finalized") {
		t.Fatalf("vote on an open claim: %v %+v", err, v)
	}
	wrong := *req
	wrong.Evidence = []quorum.EvidenceItem{{Kind: "optimistic", Data: raw(other.ID)}}
	if v, err := member().Decide(t.Context(), &wrong); err != nil || v.Approve || !strings.Contains(v.Reason, "another submission") {
		t.Fatalf("vote on another submission's claim: %v %+v", err, v)
	}
	if _, err := c.Finalize(c.WindowEnd); err != nil {
		t.Fatal(err)
	}
	v, err := member().Decide(t.Context(), req)
	if err != nil || !v.Approve || v.ResultDigest != c.AnchorDigest() {
		t.Fatalf("vote on a finalized claim: %v %+v", err, v)
	}
}

// The chain node is what devnet members read claims from.
var _ Claims = (*node.Node)(nil)
