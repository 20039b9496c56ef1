package prover

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/big"

	groth16bn254 "github.com/consensys/gnark/backend/groth16/bn254"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/common/math"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/internal/records"
)

// EVMCall is a chunk proof as arguments of the exported Solidity verifier's
// verifyProof(bytes proof, uint256[N] input), and as ready calldata.
type EVMCall struct {
	Function string        `json:"function"`
	Proof    hexutil.Bytes `json:"proof"`
	Input    []string      `json:"input"` // decimal field elements
	Calldata hexutil.Bytes `json:"calldata"`
}

// PublicInputs returns the chunk proof's public inputs as field elements, in
// circuit order: index, root, count, sums.
func (cp *ChunkProof) PublicInputs() ([]*big.Int, error) {
	root, err := records.FromHash(cp.Root)
	if err != nil {
		return nil, err
	}
	in := []*big.Int{big.NewInt(int64(cp.Index)), root.BigInt(new(big.Int)), big.NewInt(int64(cp.Count))}
	for f, str := range cp.Sums {
		v, ok := new(big.Int).SetString(str, 10)
		if !ok {
			return nil, fmt.Errorf("sum %d %q is not a decimal integer", f, str)
		}
		in = append(in, modP(v))
	}
	return in, nil
}

// Calldata encodes a chunk proof for the Solidity verifier exported from its
// verifying key.
func Calldata(cp *ChunkProof) (*EVMCall, error) {
	if err := checkProofLayout(cp.Proof, 1); err != nil { // every dataset circuit has one commitment (the range checks')
		return nil, err
	}
	proof := new(groth16bn254.Proof)
	if _, err := proof.ReadFrom(bytes.NewReader(cp.Proof)); err != nil {
		return nil, fmt.Errorf("decode proof: %w", err)
	}
	in, err := cp.PublicInputs()
	if err != nil {
		return nil, err
	}
	sol := proof.MarshalSolidity()
	fn := fmt.Sprintf("verifyProof(bytes,uint256[%d])", len(in))
	// ABI: selector ‖ offset of proof ‖ input[N] inline ‖ len(proof) ‖ proof padded
	data := append([]byte{}, crypto.Keccak256([]byte(fn))[:4]...)
	data = append(data, math.U256Bytes(big.NewInt(int64(32*(1+len(in)))))...)
	call := &EVMCall{Function: fn, Proof: sol}
	for _, v := range in {
		data = append(data, math.U256Bytes(new(big.Int).Set(v))...)
		call.Input = append(call.Input, v.String())
	}
	var l [32]byte
	binary.BigEndian.PutUint64(l[24:], uint64(len(sol)))
	data = append(data, l[:]...)
	data = append(data, sol...)
	if pad := len(sol) % 32; pad != 0 {
		data = append(data, make([]byte, 32-pad)...)
	}
	call.Calldata = data
	return call, nil
}
