package prover

import (
	"bytes"
	"errors"
	"fmt"
	"math/big"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/consensys/gnark/backend"
	"github.com/consensys/gnark/backend/groth16"
	groth16bn254 "github.com/consensys/gnark/backend/groth16/bn254"
	"github.com/consensys/gnark/backend/solidity"
	"github.com/consensys/gnark/backend/witness"
	"github.com/consensys/gnark/frontend"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/vsc-labs/vsc/internal/records"
)

// Errors of proving.
var (
	// ErrOutOfRange: a value lies outside its field's declared range; no
	// proof is made.
	ErrOutOfRange = errors.New("value outside the declared range")
	// ErrDatasetShape: the dataset does not fit the circuit shape.
	ErrDatasetShape = errors.New("dataset does not fit the circuit shape")
)

// ChunkProof is one chunk's proof with its public inputs: the chunk's index,
// the root of its subtree, its record count and its per-field sums (signed
// decimal strings).
type ChunkProof struct {
	Index int           `json:"index"`
	Root  common.Hash   `json:"root"`
	Count int           `json:"count"`
	Sums  []string      `json:"sums"`
	Proof hexutil.Bytes `json:"proof"` // gnark's compressed Groth16 proof
}

// Chunks returns the number of chunks of c records a dataset of n records has.
func Chunks(n, c int) int { return (n + c - 1) / c }

// ProveChunk proves chunk index (0-based) of ds with keys k. It refuses a
// dataset whose width differs from the shape's or with a value outside its
// field's range (ErrOutOfRange, naming the record and field).
func ProveChunk(k *Keys, ds *records.Dataset, index int) (*ChunkProof, error) {
	s := k.Shape
	if len(ds.Fields) != s.Fields() {
		return nil, fmt.Errorf("%w: the dataset has %d fields, the circuit %s has %d", ErrDatasetShape, len(ds.Fields), s, s.Fields())
	}
	n := ds.Len()
	if index < 0 || index >= Chunks(n, s.Chunk) {
		return nil, fmt.Errorf("%w: chunk %d of a dataset of %d records in chunks of %d", ErrDatasetShape, index, n, s.Chunk)
	}
	lo, hi := index*s.Chunk, min((index+1)*s.Chunk, n)
	recs := ds.Records[lo:hi]
	for i, rec := range recs {
		if len(rec) != s.Fields() {
			return nil, fmt.Errorf("%w: record %d has %d values, want %d", ErrDatasetShape, lo+i+1, len(rec), s.Fields())
		}
		for f, v := range rec {
			if !s.Ranges[f].Contains(v) {
				// the value itself is plaintext: name where it is, never what it is
				return nil, fmt.Errorf("%w: record %d, column %d is outside %s", ErrOutOfRange, lo+i+1, f+1, s.Ranges[f])
			}
		}
	}
	assign, pub := assignChunk(s, recs, index)
	w, err := frontend.NewWitness(assign, ecc.BN254.ScalarField())
	if err != nil {
		return nil, fmt.Errorf("witness of chunk %d: %w", index, err)
	}
	proof, err := groth16.Prove(k.ccs, k.pk, w, solidity.WithProverTargetSolidityVerifier(backend.GROTH16))
	if err != nil {
		return nil, fmt.Errorf("prove chunk %d: %w", index, err)
	}
	var buf bytes.Buffer
	if _, err := proof.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("encode proof: %w", err)
	}
	pub.Proof = buf.Bytes()
	return pub, nil
}

// assignChunk builds the full assignment of a chunk (len(recs) ≤ Chunk real
// records, the rest padding) and its public part.
func assignChunk(s Shape, recs [][]int64, index int) (*chunkCircuit, *ChunkProof) {
	F, C := s.Fields(), s.Chunk
	c := newCircuit(s)
	sums := make([]*big.Int, F)
	for f := range sums {
		sums[f] = new(big.Int)
	}
	leaves := make([]fr.Element, C)
	for i := 0; i < C; i++ {
		if i < len(recs) {
			c.Active[i] = 1
			for f, v := range recs[i] {
				c.Values[i*F+f] = records.FieldValue(v)
				sums[f].Add(sums[f], big.NewInt(v))
			}
			leaves[i] = records.LeafHash(recs[i])
		} else {
			c.Active[i] = 0
			for f := 0; f < F; f++ {
				c.Values[i*F+f] = s.Ranges[f].offset()
			}
		}
	}
	root := subtreeRoot(leaves)
	c.Index, c.Root, c.Count = index, root, len(recs)
	pub := &ChunkProof{Index: index, Root: records.ToHash(root), Count: len(recs), Sums: make([]string, F)}
	for f := range sums {
		c.Sums[f] = modP(sums[f])
		pub.Sums[f] = sums[f].String()
	}
	return c, pub
}

// subtreeRoot hashes a power-of-two layer of leaves up to its root.
func subtreeRoot(lvl []fr.Element) fr.Element {
	for len(lvl) > 1 {
		next := make([]fr.Element, len(lvl)/2)
		for i := range next {
			next[i] = records.Compress(&lvl[2*i], &lvl[2*i+1])
		}
		lvl = next
	}
	return lvl[0]
}

// publicWitness rebuilds the public inputs a chunk proof claims, in circuit
// order (index, root, count, sums), without walking the private fields.
func (cp *ChunkProof) publicWitness(s Shape) (witness.Witness, error) {
	if len(cp.Sums) != s.Fields() {
		return nil, fmt.Errorf("%d sums for %d fields", len(cp.Sums), s.Fields())
	}
	in, err := cp.PublicInputs()
	if err != nil {
		return nil, err
	}
	w, err := witness.New(ecc.BN254.ScalarField())
	if err != nil {
		return nil, err
	}
	ch := make(chan any, len(in))
	for _, v := range in {
		ch <- v
	}
	close(ch)
	if err := w.Fill(len(in), 0, ch); err != nil {
		return nil, err
	}
	return w, nil
}

// VerifyChunk checks one chunk proof against its claimed public inputs (not
// its place in a dataset: that is VerifyEvidence's job).
func VerifyChunk(vk *VerifyingKey, cp *ChunkProof) error { return verifyChunk(vk, cp) }

func verifyChunk(vk *VerifyingKey, cp *ChunkProof) error {
	pw, err := cp.publicWitness(vk.Shape)
	if err != nil {
		return err
	}
	if err := checkProofLayout(cp.Proof, len(vk.vk.CommitmentKeys)); err != nil {
		return err
	}
	proof := new(groth16bn254.Proof)
	r := bytes.NewReader(cp.Proof)
	if _, err := proof.ReadFrom(r); err != nil {
		return fmt.Errorf("decode proof: %w", err)
	}
	if r.Len() != 0 {
		return fmt.Errorf("%d trailing bytes after the proof", r.Len())
	}
	return groth16.Verify(proof, vk.vk, pw, solidity.WithVerifierTargetSolidityVerifier(backend.GROTH16))
}

// probe proves and verifies an all-padding chunk: a check that a proving key
// and a verifying key belong to this circuit and to each other.
func (k *Keys) probe() error {
	assign, pub := assignChunk(k.Shape, nil, 0)
	w, err := frontend.NewWitness(assign, ecc.BN254.ScalarField())
	if err != nil {
		return err
	}
	proof, err := groth16.Prove(k.ccs, k.pk, w, solidity.WithProverTargetSolidityVerifier(backend.GROTH16))
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if _, err := proof.WriteTo(&buf); err != nil {
		return err
	}
	pub.Proof = buf.Bytes()
	return verifyChunk(k.VK, pub)
}
