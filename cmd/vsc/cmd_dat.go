package main

import (
	"context"
	"crypto/ecdsa"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/internal/cli"
	"github.com/vsc-labs/vsc/internal/keys"
)

func loadKeyFlag(path string) (*ecdsa.PrivateKey, error) {
	if path == "" {
		return nil, cli.Usagef("--key FILE is required (make one with `vsc key new --out FILE`)")
	}
	k, err := keys.Load(path)
	if err != nil {
		return nil, fmt.Errorf("load key %s: %w", path, err)
	}
	return k, nil
}

func oneHash(pos []string, usage, what string) (common.Hash, error) {
	if len(pos) != 1 {
		return common.Hash{}, cli.Usagef("%s", usage)
	}
	return parseHash(pos[0], what)
}

func cmdDATShow(ctx context.Context, env *cli.Env, args []string) error {
	fs := flag.NewFlagSet("dat show", flag.ContinueOnError)
	pos, err := cli.Parse(fs, args)
	if err != nil {
		return err
	}
	id, err := oneHash(pos, "vsc dat show CLASS", "CLASS")
	if err != nil {
		return err
	}
	c, err := chainClient(env).DATClass(ctx, id)
	if err != nil {
		return err
	}
	return env.Print(c, func(w io.Writer) {
		fmt.Fprintf(w, "class %s (%s, iDAO %s)\n  uri         %s\n  price       %s per unit\n  shares      %d\n  pool        %s (claimed %s)\n  submission  %s\n  data hash   %s\n  commitment  %s\n  anchor tx   %s\n",
			c.ID.Hex(), c.Kind, c.IDAO, c.URI, c.Price, c.TotalShares, c.Revenue.Pool, c.Revenue.Claimed,
			c.Provenance.Submission.Hex(), c.Provenance.DataHash.Hex(), c.Provenance.Commitment.Hex(), c.Provenance.AnchorTx.Hex())
		for _, t := range c.Tokens {
			fmt.Fprintf(w, "  token %s owner %s value %d shares %d claimable %s\n", t.ID.Hex(), t.Owner.Hex(), t.Value, t.Shares, t.Claimable)
		}
	})
}

func cmdDATList(ctx context.Context, env *cli.Env, args []string) error {
	fs := flag.NewFlagSet("dat list", flag.ContinueOnError)
	owner := fs.String("owner", "", "only tokens of this address")
	class := fs.String("class", "", "only tokens of this class")
	if _, err := cli.Parse(fs, args); err != nil {
		return err
	}
	var o common.Address
	var c common.Hash
	if *owner != "" {
		if !common.IsHexAddress(*owner) {
			return cli.Usagef("--owner must be an address")
		}
		o = common.HexToAddress(*owner)
	}
	if *class != "" {
		h, err := parseHash(*class, "--class")
		if err != nil {
			return err
		}
		c = h
	}
	l, err := chainClient(env).DATTokens(ctx, o, c)
	if err != nil {
		return err
	}
	return env.Print(l, func(w io.Writer) {
		if len(l.Tokens) == 0 {
			fmt.Fprintln(w, "no tokens")
		}
		for _, t := range l.Tokens {
			fmt.Fprintf(w, "%s class %s owner %s value %d shares %d claimable %s\n", t.ID.Hex(), t.Class.Hex(), t.Owner.Hex(), t.Value, t.Shares, t.Claimable)
		}
	})
}

// unitsArgs parses "ID --units N --key FILE", shared by buy and redeem.
func unitsArgs(name, usage, what, keyHelp string, args []string) (common.Hash, uint64, *ecdsa.PrivateKey, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	units := fs.Uint64("units", 0, "usage units")
	keyFile := fs.String("key", "", keyHelp)
	pos, err := cli.Parse(fs, args)
	if err != nil {
		return common.Hash{}, 0, nil, err
	}
	id, err := oneHash(pos, usage, what)
	if err != nil {
		return common.Hash{}, 0, nil, err
	}
	if *units == 0 {
		return common.Hash{}, 0, nil, cli.Usagef("--units must be positive")
	}
	k, err := loadKeyFlag(*keyFile)
	return id, *units, k, err
}

func cmdDATBuy(ctx context.Context, env *cli.Env, args []string) error {
	class, units, k, err := unitsArgs("dat buy", "vsc dat buy CLASS --units N --key FILE", "CLASS", "buyer's key file", args)
	if err != nil {
		return err
	}
	r, err := chainClient(env).BuyDAT(ctx, k, class, units)
	if err != nil {
		return err
	}
	return env.Print(r, func(w io.Writer) {
		fmt.Fprintf(w, "bought %d units of %s for %s: token %s\n", r.Units, r.Class.Hex(), r.Paid, r.Token.Hex())
	})
}

func cmdDATRedeem(ctx context.Context, env *cli.Env, args []string) error {
	token, units, k, err := unitsArgs("dat redeem", "vsc dat redeem TOKEN --units N --key FILE", "TOKEN", "owner's key file", args)
	if err != nil {
		return err
	}
	r, err := chainClient(env).RedeemDAT(ctx, k, token, units)
	if err != nil {
		return err
	}
	return env.Print(r, func(w io.Writer) {
		fmt.Fprintf(w, "redeemed %d units of %s, %d left\nreceipt (show it to the data's server): tx %s block %d signature %s\n",
			r.Units, r.Token.Hex(), r.Left, r.Receipt.Tx.Hex(), r.Receipt.Block, r.Receipt.Signature)
	})
}

func cmdDATTransfer(ctx context.Context, env *cli.Env, args []string) error {
	fs := flag.NewFlagSet("dat transfer", flag.ContinueOnError)
	to := fs.String("to", "", "recipient address")
	value := fs.Uint64("value", 0, "split this many units off into a new token (default: give the whole token)")
	keyFile := fs.String("key", "", "owner's key file")
	pos, err := cli.Parse(fs, args)
	if err != nil {
		return err
	}
	token, err := oneHash(pos, "vsc dat transfer TOKEN --to ADDR [--value N] --key FILE", "TOKEN")
	if err != nil {
		return err
	}
	if !common.IsHexAddress(*to) {
		return cli.Usagef("--to must be an address")
	}
	k, err := loadKeyFlag(*keyFile)
	if err != nil {
		return err
	}
	r, err := chainClient(env).TransferDAT(ctx, k, token, common.HexToAddress(*to), *value)
	if err != nil {
		return err
	}
	return env.Print(r, func(w io.Writer) {
		if r.NewToken != nil {
			fmt.Fprintf(w, "split %d units of %s into %s for %s\n", r.Value, r.Token.Hex(), r.NewToken.Hex(), r.To.Hex())
			return
		}
		fmt.Fprintf(w, "token %s now belongs to %s\n", r.Token.Hex(), r.To.Hex())
	})
}

func cmdDATClaim(ctx context.Context, env *cli.Env, args []string) error {
	fs := flag.NewFlagSet("dat claim", flag.ContinueOnError)
	keyFile := fs.String("key", "", "owner's key file")
	pos, err := cli.Parse(fs, args)
	if err != nil {
		return err
	}
	token, err := oneHash(pos, "vsc dat claim TOKEN --key FILE", "TOKEN")
	if err != nil {
		return err
	}
	k, err := loadKeyFlag(*keyFile)
	if err != nil {
		return err
	}
	r, err := chainClient(env).ClaimDAT(ctx, k, token)
	if err != nil {
		return err
	}
	return env.Print(r, func(w io.Writer) { fmt.Fprintf(w, "claimed %s from %s\n", r.Claimed, r.Token.Hex()) })
}

func cmdDATQueryPolicy(ctx context.Context, env *cli.Env, args []string) error {
	fs := flag.NewFlagSet("dat query-policy", flag.ContinueOnError)
	keyFile := fs.String("key", "", "the class's contributor's key file")
	allow := fs.String("allow", "", "comma-separated aggregates a query may use (count, sum, avg, min, max, stddev, histogram); empty: all")
	columns := fs.String("columns", "", "comma-separated columns a query may mention; empty: all")
	pos, err := cli.Parse(fs, args)
	if err != nil {
		return err
	}
	class, err := oneHash(pos, "vsc dat query-policy CLASS [--allow AGG,…] [--columns COL,…] --key FILE", "CLASS")
	if err != nil {
		return err
	}
	k, err := loadKeyFlag(*keyFile)
	if err != nil {
		return err
	}
	r, err := chainClient(env).SetQueryPolicy(ctx, k, class, splitList(*allow), splitList(*columns))
	if err != nil {
		return err
	}
	return env.Print(r, func(w io.Writer) {
		fmt.Fprintf(w, "queries over %s may use aggregates %s and columns %s (tx %s)\n", r.Class.Hex(), orAll(r.Allowed), orAll(r.Columns), r.Tx.Hex())
	})
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func orAll(l []string) string {
	if len(l) == 0 {
		return "(all)"
	}
	return strings.Join(l, ",")
}
