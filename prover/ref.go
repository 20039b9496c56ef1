package prover

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
)

// ChunkRef is what a prover worker returns for one chunk job (the Evidence
// of its work.Result): where its proof is stored and the proof's public
// inputs. The coordinator gathers the refs of all chunks with
// [GatherEvidence].
type ChunkRef struct {
	Kind      string      `json:"kind"` // "zk-chunk"
	VKHash    common.Hash `json:"vk_hash"`
	Shape     Shape       `json:"shape"`
	ChunkSize int         `json:"chunk_size"`
	Chunks    int         `json:"chunks"`
	Index     int         `json:"index"`
	Bucket    string      `json:"bucket"`
	Object    string      `json:"object"`
	Root      common.Hash `json:"root"`
	Count     int         `json:"count"`
	Sums      []string    `json:"sums"`
	ProveMS   int64       `json:"prove_ms,omitempty"` // the worker's gnark prove time (informational, for metrics)
}

// RefKind marks a ChunkRef.
const RefKind = "zk-chunk"

// DecodeRef decodes a prover worker's result evidence.
func DecodeRef(raw json.RawMessage) (ChunkRef, error) {
	var r ChunkRef
	if err := json.Unmarshal(raw, &r); err != nil {
		return r, fmt.Errorf("%w: chunk ref: %v", ErrMalformedEvidence, err)
	}
	if r.Kind != RefKind || r.Index < 0 || r.Index >= r.Chunks || r.Object == "" || r.ChunkSize < 1 {
		return r, fmt.Errorf("%w: not a zk chunk ref (kind %q, chunk %d of %d)", ErrMalformedEvidence, r.Kind, r.Index, r.Chunks)
	}
	return r, nil
}

// ProofObjectName is the object-store name of a submission's chunk proof
// under a verifying key: a redelivered job overwrites its own proof.
func ProofObjectName(submissionID, vkHash common.Hash, index int) string {
	return fmt.Sprintf("%s-%s-%d", submissionID.Hex(), vkHash.Hex()[:18], index)
}

// GatherEvidence fetches the proofs the refs point to (fetch reads an
// object; in the coordinator it is bus.GetObject) and assembles one
// evidence item. Refs may repeat and come in any order; they must agree on
// the key and the chunk size. A fetched proof whose public inputs differ from
// its ref is an error.
func GatherEvidence(ctx context.Context, refs []ChunkRef, fetch func(ctx context.Context, bucket, name string) ([]byte, error)) (*Evidence, error) {
	if len(refs) == 0 {
		return nil, fmt.Errorf("%w: no chunk proofs", ErrMissingChunk)
	}
	seen := map[int]bool{}
	var proofs []ChunkProof
	for _, r := range refs {
		if r.VKHash != refs[0].VKHash || r.ChunkSize != refs[0].ChunkSize {
			return nil, fmt.Errorf("%w: chunk %d was proven with key %s (chunk size %d), chunk %d with %s (%d)",
				ErrMalformedEvidence, r.Index, r.VKHash, r.ChunkSize, refs[0].Index, refs[0].VKHash, refs[0].ChunkSize)
		}
		if seen[r.Index] {
			continue
		}
		seen[r.Index] = true
		b, err := fetch(ctx, r.Bucket, r.Object)
		if err != nil {
			return nil, fmt.Errorf("fetch proof of chunk %d (%s/%s): %w", r.Index, r.Bucket, r.Object, err)
		}
		var cp ChunkProof
		if err := json.Unmarshal(b, &cp); err != nil {
			return nil, fmt.Errorf("%w: proof object %s: %v", ErrMalformedEvidence, r.Object, err)
		}
		if cp.Index != r.Index || cp.Root != r.Root || cp.Count != r.Count {
			return nil, fmt.Errorf("%w: proof object %s is not the proof of chunk %d", ErrMalformedEvidence, r.Object, r.Index)
		}
		proofs = append(proofs, cp)
	}
	return Assemble(refs[0].VKHash, refs[0].ChunkSize, proofs)
}
