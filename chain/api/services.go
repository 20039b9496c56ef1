package api

import (
	"strconv"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/vsc-labs/vsc/dat/escrow"
)

// Provider is a data-service provider as `vsc provider list --json` shows
// it; Attested is whether its attestation holds under its iDAO's current
// TEE policy.
type Provider struct {
	Address    common.Address `json:"address"`
	IDAO       string         `json:"idao"`
	EnclaveKey hexutil.Bytes  `json:"enclave_key"`
	Enclave    common.Address `json:"enclave"`
	Fee        string         `json:"fee"`
	Stake      string         `json:"stake"`
	Attested   bool           `json:"attested"`
	Height     uint64         `json:"height"`
}

// ProviderList is GET /v1/chain/providers.
type ProviderList struct {
	Providers []Provider `json:"providers"`
}

// NewProvider builds a Provider view; teePolicy is its iDAO's current one.
func NewProvider(p *escrow.Provider, teePolicy []byte) Provider {
	return Provider{Address: p.Address, IDAO: p.IDAO, EnclaveKey: p.PubKey, Enclave: p.Enclave, Fee: p.Fee.String(),
		Stake: p.Stake.String(), Attested: p.Attested(teePolicy), Height: p.Height}
}

// EscrowAccount is one sub-account as `vsc escrow show --json` shows it.
type EscrowAccount struct {
	Provider      common.Address `json:"provider"`
	Balance       string         `json:"balance"`
	PendingRefund string         `json:"pending_refund"`
	UnlocksAt     uint64         `json:"unlocks_at"`
	Nonce         uint64         `json:"nonce"`
}

// Escrow is GET /v1/chain/escrow/{app}: the app's sub-accounts.
type Escrow struct {
	Address  common.Address  `json:"address"`
	Accounts []EscrowAccount `json:"accounts"`
}

// NewEscrowAccount builds an EscrowAccount view.
func NewEscrowAccount(a *escrow.Account) EscrowAccount {
	return EscrowAccount{Provider: a.Provider, Balance: a.Balance.String(), PendingRefund: a.Pending.String(),
		UnlocksAt: a.UnlocksAt, Nonce: a.Nonce}
}

// SettledJob is GET /v1/chain/jobs/{id}: a job the chain settled.
type SettledJob struct {
	ID         common.Hash    `json:"id"`
	App        common.Address `json:"app"`
	Provider   common.Address `json:"provider"`
	Class      common.Hash    `json:"class"`
	Token      common.Hash    `json:"token"`
	Units      string         `json:"units"`
	Fee        string         `json:"fee"`
	ResultHash common.Hash    `json:"result_hash"`
	Tx         common.Hash    `json:"tx"`
	Block      uint64         `json:"block"`
}

// NewSettledJob builds a SettledJob view.
func NewSettledJob(s *escrow.Settled) *SettledJob {
	return &SettledJob{ID: s.ID, App: s.App, Provider: s.Provider, Class: s.Class, Token: s.Token,
		Units: strconv.FormatUint(s.Units, 10), Fee: s.Fee.String(), ResultHash: s.ResultHash, Tx: s.Tx, Block: s.Height}
}
