package proof

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/chain"
	"github.com/vsc-labs/vsc/chain/state"
	"github.com/vsc-labs/vsc/idao"
)

// MaxEnclaveProofs bounds the enclave keys one IDAO proof carries (the
// chain's read of an iDAO's registered enclaves lists at most this many,
// newest first), so a verifier never decodes an unbounded answer.
const MaxEnclaveProofs = 64

// ErrWrongSequencer is returned (wrapped in ErrInvalid) when a proof's header
// is well signed, by someone other than the sequencer the verifier trusts.
var ErrWrongSequencer = errors.New("header not signed by the trusted sequencer")

// IDAO is what a client or a member needs to know about an iDAO, proven:
// the iDAO's state (members, stake, policy with its TEE policy) and some of
// its registered enclave keys (each with its attestation report), every
// value with a state proof under one header signed by the sequencer. An
// enclave proof may prove absence (the key was asked for and is not
// registered).
type IDAO struct {
	Header   *chain.Header  `json:"header"`
	IDAO     *state.Proof   `json:"idao"`
	Enclaves []*state.Proof `json:"enclaves"`
}

// VerifiedIDAO is an IDAO proof's content once checked.
type VerifiedIDAO struct {
	Header *chain.Header
	// IDAO is nil when the proof shows that no iDAO has the name.
	IDAO *idao.IDAO
	// Enclaves are the proven registered keys (absences are left out).
	Enclaves []*state.Enclave
}

// Enclave returns the registered enclave with this public key, or nil.
func (v *VerifiedIDAO) Enclave(pub []byte) *state.Enclave {
	for _, e := range v.Enclaves {
		if bytes.Equal(e.PubKey, pub) {
			return e
		}
	}
	return nil
}

// verifyHeader checks that h is signed by sequencer (which must be set: a
// proof checked against whoever signed it proves nothing).
func verifyHeader(h *chain.Header, sequencer common.Address) error {
	if sequencer == (common.Address{}) {
		return fmt.Errorf("%w: no trusted sequencer to check the header against", ErrInvalid)
	}
	if h == nil {
		return fmt.Errorf("%w: no header", ErrInvalid)
	}
	if err := h.VerifySig(); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if h.Proposer != sequencer {
		return fmt.Errorf("%w: %w: header %d is signed by %s, the trusted sequencer is %s", ErrInvalid, ErrWrongSequencer, h.Height, h.Proposer.Hex(), sequencer.Hex())
	}
	return nil
}

// Verify checks p for the iDAO called name against sequencer: the header's
// signature, each state proof under the header's state root, that each
// proof is of the key it must be (the iDAO's, and enclave keys of this
// iDAO), and that the proven values decode. It is pure: no node, no clock.
func (p *IDAO) Verify(name string, sequencer common.Address) (*VerifiedIDAO, error) {
	if err := verifyHeader(p.Header, sequencer); err != nil {
		return nil, err
	}
	if p.IDAO == nil {
		return nil, fmt.Errorf("%w: no iDAO proof", ErrInvalid)
	}
	if len(p.Enclaves) > MaxEnclaveProofs {
		return nil, fmt.Errorf("%w: %d enclave proofs, at most %d", ErrInvalid, len(p.Enclaves), MaxEnclaveProofs)
	}
	if string(p.IDAO.Key) != state.IDAOKey(name) {
		return nil, fmt.Errorf("%w: the iDAO proof is not of iDAO %q", ErrInvalid, name)
	}
	root := p.Header.StateRoot
	val, err := p.IDAO.Verify(root)
	if err != nil {
		return nil, fmt.Errorf("%w: iDAO %q: %v", ErrInvalid, name, err)
	}
	out := &VerifiedIDAO{Header: p.Header}
	if val != nil {
		d := new(idao.IDAO)
		if err := state.Decode(val, d); err != nil {
			return nil, fmt.Errorf("%w: iDAO %q does not decode: %v", ErrInvalid, name, err)
		}
		if d.Name != name {
			return nil, fmt.Errorf("%w: the proven iDAO is %q, not %q", ErrInvalid, d.Name, name)
		}
		out.IDAO = d
	}
	for i, ep := range p.Enclaves {
		if ep == nil {
			return nil, fmt.Errorf("%w: enclave proof %d is empty", ErrInvalid, i)
		}
		val, err := ep.Verify(root)
		if err != nil {
			return nil, fmt.Errorf("%w: enclave proof %d: %v", ErrInvalid, i, err)
		}
		if val == nil {
			if !isEnclaveKeyOf(string(ep.Key), name) {
				return nil, fmt.Errorf("%w: enclave proof %d is not of an enclave key of iDAO %q", ErrInvalid, i, name)
			}
			continue
		}
		e := new(state.Enclave)
		if err := state.Decode(val, e); err != nil {
			return nil, fmt.Errorf("%w: enclave proof %d does not decode: %v", ErrInvalid, i, err)
		}
		if e.IDAO != name || string(ep.Key) != state.EnclaveKey(name, e.PubKey) {
			return nil, fmt.Errorf("%w: enclave proof %d is of another iDAO's key", ErrInvalid, i)
		}
		out.Enclaves = append(out.Enclaves, e)
	}
	return out, nil
}

// isEnclaveKeyOf reports whether k has the shape of an enclave key of the
// iDAO called name (prefix, a 32-byte hash of the public key, the name).
func isEnclaveKeyOf(k, name string) bool {
	n := len(state.PrefixEnclave) + 32
	return len(k) == n+len(name) && k[:len(state.PrefixEnclave)] == state.PrefixEnclave && k[n:] == name
}

// VerifyIDAOState checks a plain state proof (GET /v1/chain/idaos/{name}/proof)
// of the iDAO called name against sequencer and returns the proven iDAO
// (nil: proven absent) with the header it was proven under.
func VerifyIDAOState(p *Proof, name string, sequencer common.Address) (*idao.IDAO, *chain.Header, error) {
	if p.Kind != KindState || p.State == nil {
		return nil, nil, fmt.Errorf("%w: not a state proof", ErrInvalid)
	}
	v, err := (&IDAO{Header: p.Header, IDAO: p.State}).Verify(name, sequencer)
	if err != nil {
		return nil, nil, err
	}
	return v.IDAO, v.Header, nil
}
