package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/chain"
	"github.com/vsc-labs/vsc/chain/node"
	"github.com/vsc-labs/vsc/internal/cli"
)

// checkFollow checks the flags of `vscd chain --follow URL`.
func (cfg *chainConfig) checkFollow() error {
	if cfg.KeyFile != "" && cfg.KeyFile != filepath.Join(cfg.Data, "sequencer.key") {
		return cli.Usagef("--follow runs a follower, which signs nothing: drop --key")
	}
	if cfg.Sequencer != "" && !common.IsHexAddress(cfg.Sequencer) {
		return cli.Usagef("--sequencer %q is not a 0x address", cfg.Sequencer)
	}
	return nil
}

// followConfig is a follower's node configuration. The genesis it trusts
// is --genesis FILE, or the sequencer's own once it names the --sequencer
// address given here (never trusted from the API alone); a data dir made
// before needs neither.
func (cfg chainConfig) followConfig(ctx context.Context, log *slog.Logger) (node.Config, error) {
	ncfg, err := cfg.readOnlyConfig(log)
	if err != nil {
		return ncfg, err
	}
	fresh := false
	if _, err := os.Stat(filepath.Join(cfg.Data, "chain.db")); err != nil {
		fresh = true
	}
	switch {
	case cfg.Genesis != "":
		if ncfg.Genesis, err = chain.LoadGenesis(cfg.Genesis); err != nil {
			return ncfg, err
		}
	case fresh && cfg.Sequencer == "":
		return ncfg, cli.Usagef("a fresh follower needs the chain it trusts: --genesis FILE, or --sequencer ADDR (the fetched genesis must name it)")
	case fresh:
		g, err := node.FetchGenesis(ctx, cfg.Follow)
		if err != nil {
			return ncfg, err
		}
		if g.Sequencer != common.HexToAddress(cfg.Sequencer) {
			return ncfg, fmt.Errorf("the chain at %s names sequencer %s, not the --sequencer %s this follower trusts", cfg.Follow, g.Sequencer.Hex(), cfg.Sequencer)
		}
		ncfg.Genesis = g
	}
	ncfg.Follow = &node.Follow{URL: cfg.Follow}
	return ncfg, nil
}
