package exec

import (
	"encoding/json"
	"math/big"

	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/chain/tx"
	"github.com/vsc-labs/vsc/dat/escrow"
	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/optimistic"
)

// EnclaveVerifier checks an enclave key's attestation report against an
// iDAO's TEE policy. The tee package provides one; without it the chain
// refuses every enclave registration. It must be deterministic.
type EnclaveVerifier interface {
	VerifyEnclaveKey(idao string, policy json.RawMessage, pubKey, report []byte) error
}

// Config is the chain's consensus configuration.
type Config struct {
	ChainID  uint64
	GasPrice *big.Int
	Enclave  EnclaveVerifier
	// Optimistic are the optimistic game's numbers (nil: optimistic.DefaultParams).
	Optimistic *optimistic.Params
	// Staking are the staking rules (nil: idao.DefaultParams).
	Staking *idao.Params
	// Services are the data-service numbers (nil: escrow.DefaultParams).
	Services *escrow.Params
}

// ServiceParams are the data-service numbers in force.
func (c *Config) ServiceParams() escrow.Params {
	if c.Services == nil {
		return escrow.DefaultParams()
	}
	return *c.Services
}

// StakingParams are the staking rules in force.
func (c *Config) StakingParams() idao.Params {
	if c.Staking == nil {
		return idao.DefaultParams()
	}
	return *c.Staking
}

// OptimisticParams are the optimistic game's numbers in force.
func (c *Config) OptimisticParams() optimistic.Params {
	if c.Optimistic == nil {
		return optimistic.DefaultParams()
	}
	return *c.Optimistic
}

// Fee is the fee of a tx carrying body whose encoding is size bytes: its
// gas (tx.Gas) at the chain's gas price.
func (c *Config) Fee(body tx.Body, size int) *big.Int {
	return new(big.Int).Mul(new(big.Int).SetUint64(tx.Gas(body, size)), c.GasPrice)
}

// TxFee is the fee of t (body is t's decoded body).
func (c *Config) TxFee(t *tx.Tx, body tx.Body) *big.Int { return c.Fee(body, len(t.Body)) }

// Env is the block context a tx runs in.
type Env struct {
	Height   uint64
	Time     uint64 // unix milliseconds
	Proposer common.Address
}

// Now is the block time in unix seconds.
func (e *Env) Now() uint64 { return e.Time / 1000 }
