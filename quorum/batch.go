package quorum

import (
	"crypto/ecdsa"
	"errors"
	"fmt"
	"sync"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/signer/core/apitypes"

	"github.com/vsc-labs/vsc/internal/eip712"
)

// A member that answers many vote requests at once signs them as one batch:
// the leaves are the votes' EIP-712 struct hashes, in order; the member signs
// the EIP-712 VoteBatch(root, size) over their Merkle root. Each vote keeps
// its own inclusion proof (BatchProof), so it can be checked — by the
// coordinator, by the chain, in an equivocation proof — on its own, and one
// signature recovery serves the whole batch.
//
// The tree: level by level, pairs are hashed keccak256(left ‖ right); an odd
// last node is carried up unchanged. Index and Size fix which siblings a
// path has, so a proof verifies only at its own position.

// VoteBatchTypeString is the EIP-712 type a member signs for a batch.
const VoteBatchTypeString = "VoteBatch(bytes32 root,uint32 size)"

var voteBatchTypeHash = crypto.Keccak256Hash([]byte(VoteBatchTypeString))

// MaxBatch bounds a vote batch.
const MaxBatch = 1 << 16

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
func BatchTypedData(chainID uint64, root common.Hash, size uint32) apitypes.TypedData {
	return apitypes.TypedData{
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
	if b.Size == 0 || b.Size > MaxBatch || b.Index >= b.Size {
		return common.Hash{}, fmt.Errorf("%w: index %d of %d", ErrBadBatchProof, b.Index, b.Size)
	}
	if root, ok := walk(v.Leaf(), b.Index, b.Size, b.Path); !ok || root != b.Root {
		return common.Hash{}, ErrBadBatchProof
	}
	return BatchDigest(chainID, b.Root, b.Size), nil
}

// walk hashes leaf up the path at position index of size leaves.
func walk(leaf common.Hash, index, size uint32, path []common.Hash) (common.Hash, bool) {
	h, used := leaf, 0
	for n := size; n > 1; n = (n + 1) / 2 {
		switch {
		case index%2 == 1:
			if used == len(path) {
				return h, false
			}
			h = pair(path[used], h)
			used++
		case index+1 < n:
			if used == len(path) {
				return h, false
			}
			h = pair(h, path[used])
			used++
		}
		index /= 2
	}
	return h, used == len(path)
}

func pair(a, b common.Hash) common.Hash { return crypto.Keccak256Hash(a[:], b[:]) }

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
	levels := [][]common.Hash{make([]common.Hash, len(votes))}
	for i, v := range votes {
		levels[0][i] = v.Leaf()
	}
	for cur := levels[0]; len(cur) > 1; cur = levels[len(levels)-1] {
		next := make([]common.Hash, 0, (len(cur)+1)/2)
		for i := 0; i < len(cur); i += 2 {
			if i+1 < len(cur) {
				next = append(next, pair(cur[i], cur[i+1]))
			} else {
				next = append(next, cur[i])
			}
		}
		levels = append(levels, next)
	}
	root, size := levels[len(levels)-1][0], uint32(len(votes))
	sig, err := eip712.Sign(key, BatchDigest(chainID, root, size))
	if err != nil {
		return err
	}
	member := crypto.PubkeyToAddress(key.PublicKey)
	for i, v := range votes {
		var path []common.Hash
		idx := i
		for _, lv := range levels[:len(levels)-1] {
			if sib := idx ^ 1; sib < len(lv) {
				path = append(path, lv[sib])
			}
			idx /= 2
		}
		v.Member, v.Signature = member, sig
		v.Batch = &BatchProof{Root: root, Size: size, Index: uint32(i), Path: path}
	}
	return nil
}

// recoverCache remembers recovered signers by (digest, signature): a batch
// signature is recovered once for all its votes, wherever they are checked
// (the coordinator, the chain's block preparation). Recovery is a pure
// function of its inputs, so a cached answer is always right; the cache is
// simply emptied when it grows past its bound.
var recoverCache = struct {
	sync.Mutex
	m map[[32 + 65]byte]common.Address
}{m: map[[32 + 65]byte]common.Address{}}

const recoverCacheMax = 1 << 15

func recoverCached(digest common.Hash, sig []byte) (common.Address, error) {
	if len(sig) != 65 {
		return eip712.Recover(digest, sig)
	}
	var k [32 + 65]byte
	copy(k[:], digest[:])
	copy(k[32:], sig)
	recoverCache.Lock()
	a, ok := recoverCache.m[k]
	recoverCache.Unlock()
	if ok {
		return a, nil
	}
	a, err := eip712.Recover(digest, sig)
	if err != nil {
		return a, err
	}
	recoverCache.Lock()
	if len(recoverCache.m) >= recoverCacheMax {
		clear(recoverCache.m)
	}
	recoverCache.m[k] = a
	recoverCache.Unlock()
	return a, nil
}
