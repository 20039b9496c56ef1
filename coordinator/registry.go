package coordinator

import (
	"encoding/json"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/idao"
)

// Registered is an iDAO as the coordinator's registry serves it: the iDAO
// itself (idao.IDAO, the type the chain keeps) and the enclave key its
// verifier set publishes. The registry is the chain, or for a coordinator
// without one its PostgreSQL idaos table.
type Registered struct {
	*idao.IDAO
	// Enclave is the enclave key contributors wrap data keys to, which
	// must sign every worker result (nil: the registry names none, so
	// intake checks no key and no worker result is believed).
	Enclave *EnclaveKey
}

// EnclavePubkey is the enclave's public key (nil: none named).
func (r *Registered) EnclavePubkey() []byte {
	if r.Enclave == nil {
		return nil
	}
	return r.Enclave.PublicKey
}

// Staked returns the members that hold voting stake (a member whose stake
// is all pending unstake no longer counts, and is not shown).
func (r *Registered) Staked() []idao.Member {
	var out []idao.Member
	for _, m := range r.Members {
		if m.Stake != nil && m.Stake.Sign() > 0 {
			out = append(out, m)
		}
	}
	return out
}

// DefaultMode is the policy's first mode, the one a submission that names
// none gets ("" for a policy without modes).
func (r *Registered) DefaultMode() idao.Mode {
	if len(r.Policy.Modes) == 0 {
		return ""
	}
	return r.Policy.Modes[0]
}

// PolicyConfig is an iDAO policy's details besides its modes, as the API
// shows them (IDAOView.PolicyExtra, "policy_config") and the PostgreSQL
// registry stores them (the idaos.policy column). Its fields are in the
// order of their JSON names, so its encoding is the one a sorted map gave.
type PolicyConfig struct {
	// Price is the default DAT unit price in base units, as a decimal
	// string (absent: none set).
	Price        *string         `json:"price,omitempty"`
	TEEPolicy    json.RawMessage `json:"tee_policy,omitempty"`
	UnstakeDelay uint64          `json:"unstake_delay"`
	VKHash       common.Hash     `json:"vk_hash"`
	ZKShapes     []idao.ZKShape  `json:"zk_shapes,omitempty"`
}

// NewPolicyConfig is p's details.
func NewPolicyConfig(p *idao.Policy) PolicyConfig {
	c := PolicyConfig{TEEPolicy: p.TEEPolicy, UnstakeDelay: p.UnstakeDelay, VKHash: p.VKHash, ZKShapes: p.ZKShapes}
	if p.Price != nil {
		s := p.Price.String()
		c.Price = &s
	}
	return c
}

// Empty reports whether no detail is set (a registry row made without
// any): the API then shows no policy_config.
func (c *PolicyConfig) Empty() bool {
	return c.Price == nil && len(c.TEEPolicy) == 0 && c.UnstakeDelay == 0 && c.VKHash == (common.Hash{}) && len(c.ZKShapes) == 0
}

// Policy is the policy of these details with modes.
func (c *PolicyConfig) Policy(modes []idao.Mode) (idao.Policy, error) {
	p := idao.Policy{Modes: modes, TEEPolicy: c.TEEPolicy, UnstakeDelay: c.UnstakeDelay, VKHash: c.VKHash, ZKShapes: c.ZKShapes}
	if c.Price != nil {
		x, ok := new(big.Int).SetString(*c.Price, 10)
		if !ok {
			return p, fmt.Errorf("policy price %q is not a decimal amount", *c.Price)
		}
		p.Price = x
	}
	return p, nil
}
