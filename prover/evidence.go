package prover

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"runtime"
	"sort"
	"sync"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/internal/records"
	"github.com/vsc-labs/vsc/internal/submission"
)

// Evidence is the zk evidence of one submission: every chunk proof, in
// order, and the facts they establish about the whole dataset.
type Evidence struct {
	VKHash    common.Hash  `json:"vk_hash"`
	ChunkSize int          `json:"chunk_size"`
	Count     uint64       `json:"count"` // records in the dataset
	Sums      []string     `json:"sums"`  // per-field sums, signed decimal
	Chunks    []ChunkProof `json:"chunks"`
}

// Limits on decoded evidence.
const (
	maxEvidenceBytes = 64 << 20
	maxProofBytes    = 4096
)

// DecodeEvidence decodes zk evidence from JSON (from the coordinator, or a
// file). It checks sizes only; VerifyEvidence checks the rest.
func DecodeEvidence(b []byte) (*Evidence, error) {
	if len(b) > maxEvidenceBytes {
		return nil, fmt.Errorf("%w: %d bytes", ErrMalformedEvidence, len(b))
	}
	var ev Evidence
	if err := json.Unmarshal(b, &ev); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedEvidence, err)
	}
	for i, c := range ev.Chunks {
		if len(c.Proof) > maxProofBytes || len(c.Sums) > records.MaxFields {
			return nil, fmt.Errorf("%w: chunk %d is oversized", ErrMalformedEvidence, i)
		}
	}
	return &ev, nil
}

// Facts are what verified zk evidence establishes about a dataset.
type Facts struct {
	Count  uint64     `json:"count"`
	Fields int        `json:"fields"`
	Sums   []*big.Int `json:"sums"`
	Ranges []Range    `json:"ranges"`
}

// Reasons VerifyEvidence rejects evidence; each rejection case has
// its own.
var (
	ErrMalformedEvidence  = errors.New("malformed zk evidence")
	ErrVKMismatch         = errors.New("zk evidence was made with a verifying key other than the registered one")
	ErrMissingChunk       = errors.New("zk evidence is missing a chunk proof")
	ErrExtraChunk         = errors.New("zk evidence has more chunk proofs than the dataset has chunks")
	ErrWrongChunk         = errors.New("zk evidence holds a proof for another chunk")
	ErrChunkOrder         = errors.New("zk chunk proofs are out of order")
	ErrCommitmentMismatch = errors.New("zk chunk roots do not recombine to the submission's commitment")
	ErrBadProof           = errors.New("invalid zk chunk proof")
	ErrCountMismatch      = errors.New("zk record count differs from the claimed one")
	ErrSumsMismatch       = errors.New("zk field sums differ from the claimed ones")
	ErrFieldsMismatch     = errors.New("zk evidence was made for another field count than the submission declares")
)

// VerifyEvidence checks zk evidence for sub against vk, the verifying key
// registered for the submission's iDAO: every chunk proof valid and in its
// place, the chunk roots recombining to sub.Commitment, and the claimed
// count and sums equal to what the proofs establish. It does no I/O; it
// returns the verified facts (to compare with a TEE's when the policy is
// tee+zk, see [Facts.Agree]).
func VerifyEvidence(vk *VerifyingKey, ev *Evidence, sub *submission.Submission) (*Facts, error) {
	if vk == nil || ev == nil || sub == nil {
		return nil, fmt.Errorf("%w: nil key, evidence or submission", ErrMalformedEvidence)
	}
	if ev.VKHash != vk.Hash {
		return nil, fmt.Errorf("%w: evidence key %s, registered %s", ErrVKMismatch, ev.VKHash, vk.Hash)
	}
	s := vk.Shape
	if sub.Fields != uint32(s.Fields()) {
		return nil, fmt.Errorf("%w: the key's circuit %s proves %d fields, the submission declares %d", ErrFieldsMismatch, s, s.Fields(), sub.Fields)
	}
	if ev.ChunkSize != s.Chunk {
		return nil, fmt.Errorf("%w: chunk size %d, the key's circuit has %d", ErrMalformedEvidence, ev.ChunkSize, s.Chunk)
	}
	n := sub.Records
	if n == 0 || n > records.MaxRecords {
		return nil, fmt.Errorf("%w: the submission declares %d records", ErrMalformedEvidence, n)
	}
	want := Chunks(int(n), s.Chunk)
	switch {
	case len(ev.Chunks) < want:
		return nil, fmt.Errorf("%w: %d of %d chunks", ErrMissingChunk, len(ev.Chunks), want)
	case len(ev.Chunks) > want:
		return nil, fmt.Errorf("%w: %d proofs for %d chunks", ErrExtraChunk, len(ev.Chunks), want)
	}
	for i, c := range ev.Chunks {
		if c.Count < 0 || c.Count > s.Chunk || len(c.Sums) != s.Fields() || len(c.Proof) > maxProofBytes {
			return nil, fmt.Errorf("%w: chunk %d has count %d and %d sums (shape %s)", ErrMalformedEvidence, i, c.Count, len(c.Sums), s)
		}
	}
	if err := checkOrder(ev.Chunks); err != nil {
		return nil, err
	}
	roots := make([]fr.Element, want)
	for i := range ev.Chunks {
		r, err := records.FromHash(ev.Chunks[i].Root)
		if err != nil {
			return nil, fmt.Errorf("%w: chunk %d root: %v", ErrMalformedEvidence, i, err)
		}
		roots[i] = r
	}
	commit, err := records.CommitmentFromChunks(roots, int(n), s.Fields(), s.Chunk)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedEvidence, err)
	}
	if commit != sub.Commitment {
		return nil, fmt.Errorf("%w: roots give %s, the submission signed %s", ErrCommitmentMismatch, commit, sub.Commitment)
	}
	if err := verifyAll(vk, ev.Chunks); err != nil {
		return nil, err
	}
	facts := &Facts{Fields: s.Fields(), Sums: make([]*big.Int, s.Fields()), Ranges: s.Ranges}
	for f := range facts.Sums {
		facts.Sums[f] = new(big.Int)
	}
	for i, c := range ev.Chunks {
		if wantCount := min(s.Chunk, int(n)-i*s.Chunk); c.Count != wantCount {
			return nil, fmt.Errorf("%w: chunk %d proves %d records, a dataset of %d has %d there", ErrCountMismatch, i, c.Count, n, wantCount)
		}
		facts.Count += uint64(c.Count)
		for f, str := range c.Sums {
			v, _ := new(big.Int).SetString(str, 10) // parsed by verifyAll already
			facts.Sums[f].Add(facts.Sums[f], v)
		}
	}
	if ev.Count != facts.Count || facts.Count != n {
		return nil, fmt.Errorf("%w: evidence claims %d, the proofs show %d, the submission declares %d", ErrCountMismatch, ev.Count, facts.Count, n)
	}
	if len(ev.Sums) != len(facts.Sums) {
		return nil, fmt.Errorf("%w: %d claimed sums for %d fields", ErrSumsMismatch, len(ev.Sums), len(facts.Sums))
	}
	for f, str := range ev.Sums {
		v, ok := new(big.Int).SetString(str, 10)
		if !ok || v.Cmp(facts.Sums[f]) != 0 {
			return nil, fmt.Errorf("%w: field %d: claimed %q, proven %s", ErrSumsMismatch, f, str, facts.Sums[f])
		}
	}
	return facts, nil
}

// checkOrder requires chunk i at position i. A set of indices that is a
// permutation of 0..k-1 in the wrong order is ErrChunkOrder; anything else
// (a duplicate, an index out of range) is a proof for another chunk.
func checkOrder(chunks []ChunkProof) error {
	idx := make([]int, len(chunks))
	inOrder := true
	for i, c := range chunks {
		idx[i] = c.Index
		inOrder = inOrder && c.Index == i
	}
	if inOrder {
		return nil
	}
	sort.Ints(idx)
	for i, v := range idx {
		if v != i {
			for p, c := range chunks {
				if c.Index != p {
					return fmt.Errorf("%w: position %d holds the proof of chunk %d", ErrWrongChunk, p, c.Index)
				}
			}
		}
	}
	for p, c := range chunks {
		if c.Index != p {
			return fmt.Errorf("%w: position %d holds chunk %d", ErrChunkOrder, p, c.Index)
		}
	}
	return nil
}

// verifyAll verifies the chunk proofs on all cores; the first failure wins.
func verifyAll(vk *VerifyingKey, chunks []ChunkProof) error {
	errs := make([]error, len(chunks))
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for i := range chunks {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			errs[i] = verifyChunk(vk, &chunks[i])
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return fmt.Errorf("%w: chunk %d: %v", ErrBadProof, i, err)
		}
	}
	return nil
}

// Agree checks zk facts against a TEE's facts of the same dataset (for
// tee+zk policies): the record count and, when sums is not nil, the per-field
// sums (tee/facts' Sum, as big integers).
func (f *Facts) Agree(records uint64, sums []*big.Int) error {
	if f.Count != records {
		return fmt.Errorf("%w: zk proves %d records, the TEE reports %d", ErrCountMismatch, f.Count, records)
	}
	if sums == nil {
		return nil
	}
	if len(sums) != len(f.Sums) {
		return fmt.Errorf("%w: zk proves %d fields, the TEE reports %d", ErrSumsMismatch, len(f.Sums), len(sums))
	}
	for i := range sums {
		if sums[i] == nil || sums[i].Cmp(f.Sums[i]) != 0 {
			return fmt.Errorf("%w: field %d: zk proves %s, the TEE reports %v", ErrSumsMismatch, i, f.Sums[i], sums[i])
		}
	}
	return nil
}

// Assemble builds a submission's evidence from its chunk proofs, gathered in
// any order and possibly more than once (a redelivered job proves its chunk
// again): one proof per index is kept, the chunks are sorted and the claimed
// facts are their totals. VerifyEvidence still checks everything.
func Assemble(vkHash common.Hash, chunkSize int, proofs []ChunkProof) (*Evidence, error) {
	byIndex := map[int]ChunkProof{}
	for _, p := range proofs {
		if _, dup := byIndex[p.Index]; !dup {
			byIndex[p.Index] = p
		}
	}
	ev := &Evidence{VKHash: vkHash, ChunkSize: chunkSize}
	for _, p := range byIndex {
		ev.Chunks = append(ev.Chunks, p)
	}
	sort.Slice(ev.Chunks, func(i, j int) bool { return ev.Chunks[i].Index < ev.Chunks[j].Index })
	var sums []*big.Int
	for _, c := range ev.Chunks {
		if sums == nil {
			sums = make([]*big.Int, len(c.Sums))
			for f := range sums {
				sums[f] = new(big.Int)
			}
		}
		if len(c.Sums) != len(sums) {
			return nil, fmt.Errorf("%w: chunk %d has %d sums, chunk 0 has %d", ErrMalformedEvidence, c.Index, len(c.Sums), len(sums))
		}
		ev.Count += uint64(c.Count)
		for f, str := range c.Sums {
			v, ok := new(big.Int).SetString(str, 10)
			if !ok {
				return nil, fmt.Errorf("%w: chunk %d sum %d %q", ErrMalformedEvidence, c.Index, f, str)
			}
			sums[f].Add(sums[f], v)
		}
	}
	for _, s := range sums {
		ev.Sums = append(ev.Sums, s.String())
	}
	return ev, nil
}
