// Package proof holds the chain's offline-checkable proofs: a tx inclusion
// proof (the tx, its Merkle path to the block's tx root, and the block
// header signed by the sequencer) and a state proof (a key's value, or its
// absence, under a header's state root). Both verify with no node at hand,
// and both are serialised in one canonical JSON form, so that VerifyJSON
// fails on any changed byte of a proof file.
package proof

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/chain"
	"github.com/vsc-labs/vsc/chain/state"
)

// ErrInvalid wraps every verification failure.
var ErrInvalid = errors.New("proof: invalid")

// Proof kinds.
const (
	KindTx    = "tx-inclusion"
	KindState = "state"
)

// Proof is a tx inclusion proof or a state proof, with the header it is
// checked against.
type Proof struct {
	Kind   string        `json:"kind"`
	Header *chain.Header `json:"header"`
	// Tx inclusion.
	Tx       hexutil.Bytes `json:"tx,omitempty"`
	TxHash   *common.Hash  `json:"tx_hash,omitempty"`
	Index    *uint32       `json:"index,omitempty"`
	Siblings []common.Hash `json:"siblings,omitempty"`
	// State.
	State *state.Proof `json:"state,omitempty"`
}

// NewTx builds the inclusion proof of block.Txs[index].
func NewTx(blk *chain.Block, index int) *Proof {
	hs := make([]common.Hash, len(blk.Txs))
	for i, t := range blk.Txs {
		hs[i] = t.Hash()
	}
	idx := uint32(index)
	th := hs[index]
	return &Proof{Kind: KindTx, Header: blk.Header, Tx: blk.Txs[index].Encode(), TxHash: &th, Index: &idx,
		Siblings: chain.MerkleProof(hs, index)}
}

// NewState wraps a state proof with the header whose state root it matches.
func NewState(h *chain.Header, p *state.Proof) *Proof {
	return &Proof{Kind: KindState, Header: h, State: p}
}

// Verify checks the proof. The header must be signed by its proposer and,
// when sequencer is non-zero, the proposer must be sequencer.
func (p *Proof) Verify(sequencer common.Address) error {
	if p.Header == nil {
		return fmt.Errorf("%w: no header", ErrInvalid)
	}
	if err := p.Header.VerifySig(); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if sequencer != (common.Address{}) && p.Header.Proposer != sequencer {
		return fmt.Errorf("%w: header signed by %s, not the sequencer %s", ErrInvalid, p.Header.Proposer, sequencer)
	}
	switch p.Kind {
	case KindTx:
		if p.TxHash == nil || p.Index == nil {
			return fmt.Errorf("%w: missing tx hash or index", ErrInvalid)
		}
		if crypto.Keccak256Hash(p.Tx) != *p.TxHash {
			return fmt.Errorf("%w: tx bytes do not hash to tx_hash", ErrInvalid)
		}
		if err := chain.VerifyMerkleProof(p.Header.TxRoot, *p.TxHash, int(*p.Index), int(p.Header.TxCount), p.Siblings); err != nil {
			return fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		return nil
	case KindState:
		if p.State == nil {
			return fmt.Errorf("%w: no state proof", ErrInvalid)
		}
		if _, err := p.State.Verify(p.Header.StateRoot); err != nil {
			return fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		return nil
	}
	return fmt.Errorf("%w: unknown kind %q", ErrInvalid, p.Kind)
}

// Marshal returns the canonical JSON of p (indented, trailing newline).
func (p *Proof) Marshal() []byte {
	b, _ := json.MarshalIndent(p, "", "  ")
	return append(b, '\n')
}

// VerifyJSON parses a proof file, requires it to be in canonical form (so
// any changed byte, even a hex digit's case, is refused) and verifies it.
func VerifyJSON(b []byte, sequencer common.Address) (*Proof, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var p Proof
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("%w: parse: %v", ErrInvalid, err)
	}
	if !bytes.Equal(bytes.TrimRight(p.Marshal(), "\n"), bytes.TrimRight(b, "\n")) {
		return nil, fmt.Errorf("%w: not in canonical form (was the file edited?)", ErrInvalid)
	}
	if err := p.Verify(sequencer); err != nil {
		return nil, err
	}
	return &p, nil
}
