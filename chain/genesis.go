package chain

import (
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"sort"

	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/dat/escrow"
	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/optimistic"
)

// Genesis is the chain's starting configuration.
type Genesis struct {
	ChainID   uint64         `json:"chain_id"`
	Time      uint64         `json:"time"` // unix milliseconds of block 0
	Sequencer common.Address `json:"sequencer"`
	// GasPrice is the fee per gas unit in base units (decimal string).
	GasPrice string `json:"gas_price"`
	// Alloc funds accounts at genesis: address → decimal base units.
	Alloc map[common.Address]string `json:"alloc"`
	// Optimistic are the optimistic game's numbers (window, clocks, bonds,
	// shares); absent: optimistic.DefaultParams.
	Optimistic *optimistic.Params `json:"optimistic,omitempty"`
	// Staking are the staking rules (slashing window, minimum unstake
	// delay, minimum stake, member cap, QC stake window); absent:
	// idao.DefaultParams.
	Staking *idao.Params `json:"staking,omitempty"`
	// Services are the data-service numbers (the refund lock); absent:
	// escrow.DefaultParams.
	Services *escrow.Params `json:"services,omitempty"`
}

// LoadGenesis reads a genesis JSON file.
func LoadGenesis(path string) (*Genesis, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read genesis: %w", err)
	}
	var g Genesis
	if err := json.Unmarshal(b, &g); err != nil {
		return nil, fmt.Errorf("parse genesis %s: %w", path, err)
	}
	return &g, g.Validate()
}

// Validate checks amounts parse.
func (g *Genesis) Validate() error {
	if g.ChainID == 0 {
		return fmt.Errorf("genesis: chain_id must be set")
	}
	if _, err := g.Price(); err != nil {
		return err
	}
	if g.Staking != nil {
		if err := g.Staking.Validate(); err != nil {
			return fmt.Errorf("genesis: %w", err)
		}
	}
	for a, v := range g.Alloc {
		if _, ok := ParseAmount(v); !ok {
			return fmt.Errorf("genesis: alloc %s: %q is not a decimal amount", a, v)
		}
	}
	return nil
}

// Price returns the gas price (default 1).
func (g *Genesis) Price() (*big.Int, error) {
	if g.GasPrice == "" {
		return big.NewInt(1), nil
	}
	p, ok := ParseAmount(g.GasPrice)
	if !ok {
		return nil, fmt.Errorf("genesis: gas_price %q is not a decimal amount", g.GasPrice)
	}
	return p, nil
}

// Accounts returns the allocations sorted by address.
func (g *Genesis) Accounts() ([]common.Address, []*big.Int) {
	addrs := make([]common.Address, 0, len(g.Alloc))
	for a := range g.Alloc {
		addrs = append(addrs, a)
	}
	sort.Slice(addrs, func(i, j int) bool { return addrs[i].Cmp(addrs[j]) < 0 })
	vals := make([]*big.Int, len(addrs))
	for i, a := range addrs {
		vals[i], _ = ParseAmount(g.Alloc[a])
	}
	return addrs, vals
}

// ParseAmount parses a non-negative decimal integer.
func ParseAmount(s string) (*big.Int, bool) {
	v, ok := new(big.Int).SetString(s, 10)
	if !ok || v.Sign() < 0 {
		return nil, false
	}
	return v, true
}
