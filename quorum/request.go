package quorum

import (
	"encoding/json"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/internal/submission"
)

// VoteRequest asks the members of an iDAO to verify a submission's evidence
// and vote. It carries only what members check for themselves: the signed
// submission and the evidence (signed by enclaves, or proofs); nothing in it
// is taken on the coordinator's word.
type VoteRequest struct {
	IDAO         string                `json:"idao"`
	ChainID      uint64                `json:"chain_id"`
	SubmissionID common.Hash           `json:"submission_id"`
	Submission   submission.Submission `json:"submission"`
	Signature    hexutil.Bytes         `json:"signature"`
	Evidence     []EvidenceItem        `json:"evidence"`
}

// EvidenceItem is one verifier's evidence: for "tee" a tee.Evidence, for
// "zk" the chunk references (prover.ChunkRef) in chunk order, for
// "optimistic" the claim id.
type EvidenceItem struct {
	Kind string            `json:"kind"`
	Data []json.RawMessage `json:"data"`
}

// ResultDigest is the digest members sign for a submission verified in mode,
// from the per-kind result digests each member recomputed. For one kind it is
// that kind's digest; for tee+zk it binds both, so a vote certifies the TEE
// facts and the proven facts together.
func ResultDigest(mode string, perKind map[string]common.Hash) common.Hash {
	switch mode {
	case "tee+zk":
		t, z := perKind["tee"], perKind["zk"]
		return crypto.Keccak256Hash([]byte("vsc/result/tee+zk"), t[:], z[:])
	default:
		return perKind[mode]
	}
}
