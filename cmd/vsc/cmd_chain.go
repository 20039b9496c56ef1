package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/chain/proof"
	"github.com/vsc-labs/vsc/chain/state"
	"github.com/vsc-labs/vsc/coordinator/client"
	"github.com/vsc-labs/vsc/internal/cli"
)

func chainClient(env *cli.Env) *client.Client { return client.New(env.API) }

func cmdChainHead(ctx context.Context, env *cli.Env, args []string) error {
	fs := flag.NewFlagSet("chain head", flag.ContinueOnError)
	if _, err := cli.Parse(fs, args); err != nil {
		return err
	}
	h, err := chainClient(env).ChainHead(ctx)
	if err != nil {
		return err
	}
	return env.Print(h, func(w io.Writer) {
		fmt.Fprintf(w, "height      %d\nhash        %s\nparent      %s\ntime        %d\ntxs         %d\nstate root  %s\ntx root     %s\nproposer    %s\n",
			h.Height, h.Hash.Hex(), h.ParentHash.Hex(), h.Time, h.TxCount, h.StateRoot.Hex(), h.TxRoot.Hex(), h.Proposer.Hex())
		if f := h.Follow; f != nil {
			fmt.Fprintf(w, "follower of %s: %d blocks behind its head %d\n", f.Sequencer, f.Lag, f.SequencerHeight)
			if f.Halted != "" {
				fmt.Fprintf(w, "HALTED      %s\n", f.Halted)
			}
		}
	})
}

func cmdChainBlock(ctx context.Context, env *cli.Env, args []string) error {
	fs := flag.NewFlagSet("chain block", flag.ContinueOnError)
	pos, err := cli.Parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return cli.Usagef("vsc chain block N|0xHASH")
	}
	b, err := chainClient(env).ChainBlock(ctx, pos[0])
	if err != nil {
		return err
	}
	return env.Print(b, func(w io.Writer) {
		h := b.Header
		fmt.Fprintf(w, "block %d %s (%d txs, state root %s)\n", h.Height, h.Hash.Hex(), h.TxCount, h.StateRoot.Hex())
		for _, t := range b.Txs {
			st := "ok"
			if t.Status == 0 {
				st = "failed"
			}
			fmt.Fprintf(w, "  %s  %-18s from %s nonce %d  %s\n", t.Hash.Hex(), t.Kind, t.Sender.Hex(), t.Nonce, st)
		}
	})
}

func parseHash(s, what string) (common.Hash, error) {
	b := common.FromHex(s)
	if !strings.HasPrefix(s, "0x") || len(b) != 32 {
		return common.Hash{}, cli.Usagef("%s must be a 0x-prefixed 32-byte hex hash, got %q", what, s)
	}
	return common.BytesToHash(b), nil
}

func cmdChainProof(ctx context.Context, env *cli.Env, args []string) error {
	fs := flag.NewFlagSet("chain proof", flag.ContinueOnError)
	out := fs.String("out", "", "write the proof to FILE instead of stdout")
	pos, err := cli.Parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return cli.Usagef("vsc chain proof TX [--out FILE]")
	}
	h, err := parseHash(pos[0], "TX")
	if err != nil {
		return err
	}
	p, err := chainClient(env).ChainTxProof(ctx, h)
	if err != nil {
		return err
	}
	// Check before handing it out: a proof we print must verify.
	if err := p.Verify(common.Address{}); err != nil {
		return fmt.Errorf("the API returned a proof that does not verify: %w", err)
	}
	return writeProofFile(env, p, *out)
}

func writeProofFile(env *cli.Env, p *proof.Proof, out string) error {
	b := p.Marshal()
	if out == "" {
		_, err := env.Stdout.Write(b)
		return err
	}
	if err := os.WriteFile(out, b, 0o644); err != nil {
		return fmt.Errorf("write proof: %w", err)
	}
	if env.JSON {
		return json.NewEncoder(env.Stdout).Encode(map[string]string{"file": out})
	}
	fmt.Fprintf(env.Stdout, "proof written to %s\n", out)
	return nil
}

// verifyResult is `vsc chain verify-proof --json`.
type verifyResult struct {
	Valid     bool           `json:"valid"`
	Kind      string         `json:"kind"`
	Block     uint64         `json:"block"`
	BlockHash common.Hash    `json:"block_hash"`
	Sequencer common.Address `json:"sequencer"`
	TxHash    *common.Hash   `json:"tx_hash,omitempty"`
	Key       string         `json:"key,omitempty"`
	Value     string         `json:"value,omitempty"`
}

func cmdChainVerifyProof(_ context.Context, env *cli.Env, args []string) error {
	fs := flag.NewFlagSet("chain verify-proof", flag.ContinueOnError)
	seq := fs.String("sequencer", "", "require the header to be signed by this sequencer address")
	pos, err := cli.Parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return cli.Usagef("vsc chain verify-proof FILE [--sequencer ADDR]")
	}
	var want common.Address
	if *seq != "" {
		if !common.IsHexAddress(*seq) {
			return cli.Usagef("--sequencer must be an address")
		}
		want = common.HexToAddress(*seq)
	}
	b, err := os.ReadFile(pos[0])
	if err != nil {
		return fmt.Errorf("read proof: %w", err)
	}
	p, err := proof.VerifyJSON(b, want)
	if err != nil {
		return fmt.Errorf("%s: %v (the file is not a valid proof; fetch it again with `vsc chain proof`)", pos[0], err)
	}
	res := &verifyResult{Valid: true, Kind: p.Kind, Block: p.Header.Height, BlockHash: p.Header.Hash(), Sequencer: p.Header.Proposer, TxHash: p.TxHash}
	if p.State != nil {
		res.Key, res.Value = describeKey(p.State.Key), common.Bytes2Hex(p.State.Value)
		if len(p.State.Value) == 0 {
			res.Value = ""
		}
	}
	return env.Print(res, func(w io.Writer) {
		if p.TxHash != nil {
			fmt.Fprintf(w, "valid: tx %s is in block %d (%s), signed by sequencer %s\n", p.TxHash.Hex(), res.Block, res.BlockHash.Hex(), res.Sequencer.Hex())
			return
		}
		what := "has the proven value"
		if res.Value == "" {
			what = "is absent"
		}
		fmt.Fprintf(w, "valid: %s %s at block %d (%s), signed by sequencer %s\n", res.Key, what, res.Block, res.BlockHash.Hex(), res.Sequencer.Hex())
	})
}

// describeKey names a state key for humans.
func describeKey(k []byte) string {
	if len(k) == 0 {
		return ""
	}
	switch string(k[:1]) {
	case state.PrefixAccount:
		if len(k) == 21 {
			return "account " + common.BytesToAddress(k[1:]).Hex()
		}
	case state.PrefixToken:
		if len(k) == 33 {
			return "dat token " + common.BytesToHash(k[1:]).Hex()
		}
	case state.PrefixClass:
		if len(k) == 33 {
			return "dat class " + common.BytesToHash(k[1:]).Hex()
		}
	case state.PrefixIDAO:
		return "idao " + string(k[1:])
	}
	return "key 0x" + common.Bytes2Hex(k)
}

// balanceResult is `vsc balance --json`.
type balanceResult struct {
	Address common.Address `json:"address"`
	Balance string         `json:"balance"`
	Stake   string         `json:"stake"`
	Nonce   uint64         `json:"nonce"`
	Bonded  string         `json:"bonded"`
	Proven  bool           `json:"proven"`
}

func cmdBalance(ctx context.Context, env *cli.Env, args []string) error {
	fs := flag.NewFlagSet("balance", flag.ContinueOnError)
	prove := fs.String("prove", "", "also fetch the state proof, check it against the signed head, and write it to FILE")
	pos, err := cli.Parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || !common.IsHexAddress(pos[0]) {
		return cli.Usagef("vsc balance ADDR [--prove FILE] (ADDR is 0x followed by 40 hex digits)")
	}
	a := common.HexToAddress(pos[0])
	c := chainClient(env)
	acc, err := c.Balance(ctx, a)
	if err != nil {
		return err
	}
	res := &balanceResult{Address: a, Balance: acc.Balance, Stake: acc.Stake, Nonce: acc.Nonce, Bonded: acc.Bonded}
	if *prove != "" {
		p, err := c.BalanceProof(ctx, a)
		if err != nil {
			return err
		}
		if err := p.Verify(common.Address{}); err != nil {
			return fmt.Errorf("balance proof does not verify: %w", err)
		}
		if err := os.WriteFile(*prove, p.Marshal(), 0o644); err != nil {
			return fmt.Errorf("write proof: %w", err)
		}
		var proven state.Account
		if len(p.State.Value) > 0 {
			if err := state.Decode(p.State.Value, &proven); err != nil {
				return fmt.Errorf("proof value: %w", err)
			}
			res.Balance, res.Nonce = proven.Balance.String(), proven.Nonce
		} else {
			res.Balance, res.Nonce = "0", 0
		}
		res.Proven = true
	}
	return env.Print(res, func(w io.Writer) {
		fmt.Fprintf(w, "%s\n  balance %s\n  stake   %s\n  bonded  %s\n  nonce   %d\n", a.Hex(), res.Balance, res.Stake, res.Bonded, res.Nonce)
		if res.Proven {
			fmt.Fprintf(w, "  (balance proven against the sequencer-signed head; proof in %s)\n", *prove)
		}
	})
}
