package proof

import (
	"fmt"

	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/chain"
	"github.com/vsc-labs/vsc/chain/state"
	"github.com/vsc-labs/vsc/dat"
)

// VerifyClassState checks a plain state proof (GET
// /v1/chain/dat/classes/{id}/proof) of the DAT class id against sequencer
// and returns the proven class (nil: proven absent) with the header it was
// proven under.
func VerifyClassState(p *Proof, id common.Hash, sequencer common.Address) (*dat.Class, *chain.Header, error) {
	if p == nil || p.Kind != KindState || p.State == nil {
		return nil, nil, fmt.Errorf("%w: not a state proof", ErrInvalid)
	}
	if err := verifyHeader(p.Header, sequencer); err != nil {
		return nil, nil, err
	}
	if string(p.State.Key) != state.ClassKey(id) {
		return nil, nil, fmt.Errorf("%w: the proof is not of DAT class %s", ErrInvalid, id.Hex())
	}
	val, err := p.State.Verify(p.Header.StateRoot)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: DAT class %s: %v", ErrInvalid, id.Hex(), err)
	}
	if val == nil {
		return nil, p.Header, nil
	}
	c := new(dat.Class)
	if err := state.Decode(val, c); err != nil {
		return nil, nil, fmt.Errorf("%w: DAT class %s does not decode: %v", ErrInvalid, id.Hex(), err)
	}
	if c.ID != id {
		return nil, nil, fmt.Errorf("%w: the proven class is %s, not %s", ErrInvalid, c.ID.Hex(), id.Hex())
	}
	return c, p.Header, nil
}
