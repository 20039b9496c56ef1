package quorum

import (
	"bytes"
	"encoding/binary"
	"encoding/json"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/idao"
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

// EvidenceItem is one verifier's evidence: for idao.KindTEE a
// tee.Evidence, for idao.KindZK the chunk references (prover.ChunkRef) in
// chunk order, for idao.KindOptimistic the claim id.
type EvidenceItem struct {
	Kind idao.Kind         `json:"kind"`
	Data []json.RawMessage `json:"data"`
}

var requestDomain = []byte("vsc/vote-request/v1")

// Digest identifies a vote request by everything in it: the submission (as
// signed, and the id it claims), its signature and each evidence item (in
// canonical JSON, so the digest survives the trip over the bus). A member
// refusing a request signs this digest as the refusal's result digest, so a
// refusal counts only against the very request the coordinator sent: one of
// a forged request vetoes nothing.
func (r *VoteRequest) Digest() common.Hash {
	var b bytes.Buffer
	b.Write(requestDomain)
	str := func(s []byte) {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(s)))
		b.Write(n[:])
		b.Write(s)
	}
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], r.ChainID)
	b.Write(n[:])
	str([]byte(r.IDAO))
	b.Write(r.SubmissionID[:])
	sd := r.Submission.Digest(r.ChainID)
	b.Write(sd[:])
	str(r.Signature)
	binary.BigEndian.PutUint64(n[:], uint64(len(r.Evidence)))
	b.Write(n[:])
	for _, e := range r.Evidence {
		str([]byte(e.Kind))
		binary.BigEndian.PutUint64(n[:], uint64(len(e.Data)))
		b.Write(n[:])
		for _, d := range e.Data {
			b.Write(crypto.Keccak256(canonicalJSON(d)))
		}
	}
	return crypto.Keccak256Hash(b.Bytes())
}

// canonicalJSON is raw as encoding/json re-encodes a RawMessage (compact,
// HTML-escaped); raw itself when it is not JSON.
func canonicalJSON(raw []byte) []byte {
	var c, h bytes.Buffer
	if json.Compact(&c, raw) != nil {
		return raw
	}
	json.HTMLEscape(&h, c.Bytes())
	return h.Bytes()
}

// ResultDigest is the digest members sign for a submission verified in mode,
// from the per-kind result digests each member recomputed. For one kind it is
// that kind's digest; for tee+zk it binds both, so a vote certifies the TEE
// facts and the proven facts together.
func ResultDigest(mode idao.Mode, perKind map[idao.Kind]common.Hash) common.Hash {
	kinds := mode.Kinds()
	switch {
	case mode == idao.ModeTEEZK:
		t, z := perKind[idao.KindTEE], perKind[idao.KindZK]
		return crypto.Keccak256Hash([]byte("vsc/result/tee+zk"), t[:], z[:])
	case len(kinds) == 1:
		return perKind[kinds[0]]
	default:
		return common.Hash{}
	}
}
