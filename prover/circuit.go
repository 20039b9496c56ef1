package prover

import (
	"fmt"
	"math/big"

	"github.com/consensys/gnark-crypto/ecc"

	"github.com/consensys/gnark/frontend"
	"github.com/consensys/gnark/std/permutation/poseidon2"
	"github.com/consensys/gnark/std/rangecheck"

	"github.com/vsc-labs/vsc/internal/records"
)

// chunkCircuit proves one chunk of Chunk records. It mirrors
// internal/records/commit.go exactly (a test checks it):
//
//   - Values[i*F+f] is the field value FieldValue(v) = v + 2^63 of record i,
//     field f. A range check on FieldValue(v) - (Min+2^63) with Bits bits
//     proves Min ≤ v < Min+2^Bits and also that the field value has at most
//     64 bits, which makes the packing below injective.
//   - e_j = Σ_k Values[3j+k]·2^(64k) (linear, free); leaf = Poseidon2
//     Merkle–Damgård over e_0..e_{m-1} from IV 0.
//   - Active[i] marks real records; Active is boolean and non-increasing,
//     so the real records are a prefix and Count = Σ Active. Padding records
//     have leaf 0 and must hold the value Min in every field, so per-field
//     sums stay linear: Sums[f] = Σ_i v_i,f − (C − Count)·Min_f.
//   - Root is the subtree root over the C leaves.
type chunkCircuit struct {
	Index frontend.Variable   `gnark:",public"`
	Root  frontend.Variable   `gnark:",public"`
	Count frontend.Variable   `gnark:",public"`
	Sums  []frontend.Variable `gnark:",public"`

	Values []frontend.Variable
	Active []frontend.Variable

	shape Shape
}

// newCircuit returns the circuit skeleton for compiling or assigning shape s.
func newCircuit(s Shape) *chunkCircuit {
	return &chunkCircuit{
		Sums:   make([]frontend.Variable, s.Fields()),
		Values: make([]frontend.Variable, s.Chunk*s.Fields()),
		Active: make([]frontend.Variable, s.Chunk),
		shape:  s,
	}
}

var (
	two64   = new(big.Int).Lsh(big.NewInt(1), 64)
	two63   = new(big.Int).Lsh(big.NewInt(1), 63)
	modulus = ecc.BN254.ScalarField()
)

// modP reduces x into [0, p).
func modP(x *big.Int) *big.Int { return new(big.Int).Mod(x, modulus) }

// Define implements frontend.Circuit.
func (c *chunkCircuit) Define(api frontend.API) error {
	F, C := c.shape.Fields(), c.shape.Chunk
	perm, err := poseidon2.NewPoseidon2FromParameters(api, 2, 6, 50)
	if err != nil {
		return fmt.Errorf("poseidon2: %w", err)
	}
	rc := rangecheck.New(api)
	m := (F + records.PerElem - 1) / records.PerElem

	// packed field elements of a padding record (every value = Min).
	pad := make([]*big.Int, m)
	for j := range pad {
		pad[j] = new(big.Int)
		for k := records.PerElem - 1; k >= 0; k-- {
			pad[j].Lsh(pad[j], 64)
			if f := records.PerElem*j + k; f < F {
				pad[j].Add(pad[j], new(big.Int).SetUint64(c.shape.Ranges[f].offset()))
			}
		}
	}

	sums := make([]frontend.Variable, F)
	for f := range sums {
		sums[f] = 0
	}
	var count frontend.Variable = 0
	leaves := make([]frontend.Variable, C)
	for i := 0; i < C; i++ {
		act := c.Active[i]
		api.AssertIsBoolean(act)
		if i > 0 {
			api.AssertIsEqual(api.Mul(act, c.Active[i-1]), act) // act ≤ previous
		}
		count = api.Add(count, act)
		rec := c.Values[i*F : (i+1)*F]
		for f, x := range rec {
			r := c.shape.Ranges[f]
			off := new(big.Int).SetUint64(r.offset())
			if off.Sign() == 0 {
				rc.Check(x, r.Bits)
			} else {
				rc.Check(api.Sub(x, off), r.Bits)
			}
			sums[f] = api.Add(sums[f], x)
		}
		var h frontend.Variable = 0
		inactive := api.Sub(1, act)
		for j := 0; j < m; j++ {
			var e frontend.Variable = 0
			coef := big.NewInt(1)
			for k := 0; k < records.PerElem && records.PerElem*j+k < F; k++ {
				e = api.Add(e, api.Mul(rec[records.PerElem*j+k], new(big.Int).Set(coef)))
				coef.Mul(coef, two64)
			}
			api.AssertIsEqual(api.Mul(api.Sub(e, pad[j]), inactive), 0)
			h = perm.Compress(h, e)
		}
		leaves[i] = api.Mul(h, act)
	}
	for len(leaves) > 1 {
		next := make([]frontend.Variable, len(leaves)/2)
		for i := range next {
			next[i] = perm.Compress(leaves[2*i], leaves[2*i+1])
		}
		leaves = next
	}
	// Index takes part in no other constraint; a public input that no
	// constraint uses is not bound by a Groth16 proof (its verifying-key
	// point is zero), so anyone could change it. The range check binds it.
	rc.Check(c.Index, 32)
	api.AssertIsEqual(c.Root, leaves[0])
	api.AssertIsEqual(c.Count, count)
	// Σ over all C slots of (x − 2^63) counts each padding slot as Min.
	for f := range sums {
		r := c.shape.Ranges[f]
		s := api.Sub(sums[f], new(big.Int).Mul(big.NewInt(int64(C)), two63))
		s = api.Sub(s, api.Mul(api.Sub(C, c.Count), modP(big.NewInt(r.Min))))
		api.AssertIsEqual(c.Sums[f], s)
	}
	return nil
}
