package quorum

import (
	"crypto/ecdsa"
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/signer/core/apitypes"

	"github.com/vsc-labs/vsc/internal/eip712"
	"github.com/vsc-labs/vsc/internal/merkle"
)

// A member that answers many vote requests at once signs them as one batch:
// the leaves are the votes' EIP-712 struct hashes, in order; the member signs
// the EIP-712 VoteBatch(root, size) over their Merkle root (internal/merkle).
// Each vote keeps its own inclusion proof (BatchProof), so it can be checked
// — by the coordinator, by the chain, in an equivocation proof — on its own,
// and one signature recovery serves the whole batch.

// VoteBatchTypeString is the EIP-712 type a member signs for a batch.
const VoteBatchTypeString = "VoteBatch(bytes32 root,uint32 size)"

var voteBatchTypeHash = crypto.Keccak256Hash([]byte(VoteBatchTypeString))

// MaxBatch bounds a vote batch.
const MaxBatch = merkle.MaxSize

// ErrBadBatchProof is returned for a vote whose batch proof does not lead
// from the vote to the signed root.
var ErrBadBatchProof = errors.New("quorum: the vote's batch proof does not lead to the signed root")

// BatchProof places a vote in a signed batch.
type BatchProof struct {
	Root  common.Hash   `json:"root"`
	Size  uint32        `json:"size"`
	Index uint32        `json:"index"`
	Path  []common.Hash `json:"path"`
}

// Leaf is the vote's leaf in a batch: its EIP-712 struct hash.
func (v *Vote) Leaf() common.Hash {
	return eip712.StructHash(voteTypeHash,
		eip712.StringWord(v.IDAO), v.Submission, v.ResultDigest,
		eip712.BoolWord(v.Approve), eip712.StringWord(v.Reason))
}

// BatchDigest is the EIP-712 digest a member signs for a batch of size votes
// with this Merkle root.
func BatchDigest(chainID uint64, root common.Hash, size uint32) common.Hash {
	return eip712.Digest(chainID, eip712.StructHash(voteBatchTypeHash, root, eip712.Uint64Word(uint64(size))))
}

// BatchTypedData is a batch as eth_signTypedData_v4 input; its hash equals
// BatchDigest.
func BatchTypedData(chainID uint64, root common.Hash, size uint32) eip712.TypedData {
	return eip712.TypedData{
		Types: apitypes.Types{
			"EIP712Domain": eip712.DomainType,
			"VoteBatch":    {{Name: "root", Type: "bytes32"}, {Name: "size", Type: "uint32"}},
		},
		PrimaryType: "VoteBatch",
		Domain:      eip712.Domain(chainID),
		Message:     apitypes.TypedDataMessage{"root": root.Hex(), "size": fmt.Sprint(size)},
	}
}

// SignedDigest is the digest v's signature signs: the vote's own EIP-712
// digest, or, for a batched vote, the batch's after checking that the proof
// leads from the vote to the root.
func (v *Vote) SignedDigest(chainID uint64) (common.Hash, error) {
	if v.Batch == nil {
		return v.Digest(chainID), nil
	}
	b := v.Batch
	if root, ok := merkle.Root(v.Leaf(), b.Index, b.Size, b.Path); !ok || root != b.Root {
		return common.Hash{}, fmt.Errorf("%w (index %d of %d)", ErrBadBatchProof, b.Index, b.Size)
	}
	return BatchDigest(chainID, b.Root, b.Size), nil
}

// SignBatch signs votes as one batch with key: each vote gets Member, the
// batch signature and its BatchProof. A single vote is signed on its own
// (no batch), as Sign does.
func SignBatch(key *ecdsa.PrivateKey, chainID uint64, votes []*Vote) error {
	switch {
	case len(votes) == 0:
		return nil
	case len(votes) == 1:
		return votes[0].Sign(key, chainID)
	case len(votes) > MaxBatch:
		return fmt.Errorf("quorum: a vote batch holds at most %d votes, got %d", MaxBatch, len(votes))
	}
	leaves := make([]common.Hash, len(votes))
	for i, v := range votes {
		leaves[i] = v.Leaf()
	}
	root, paths := merkle.Build(leaves)
	size := uint32(len(votes))
	sig, err := eip712.Sign(key, BatchDigest(chainID, root, size))
	if err != nil {
		return err
	}
	member := crypto.PubkeyToAddress(key.PublicKey)
	for i, v := range votes {
		v.Member, v.Signature = member, sig
		v.Batch = &BatchProof{Root: root, Size: size, Index: uint32(i), Path: paths[i]}
	}
	return nil
}
