package main

import (
	"context"
	"crypto/ecdsa"
	"flag"
	"fmt"
	"io"
	"math/big"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/coordinator/client"
	"github.com/vsc-labs/vsc/internal/cli"
	"github.com/vsc-labs/vsc/internal/keys"
)

func cmdProviderList(ctx context.Context, env *cli.Env, args []string) error {
	fs := flag.NewFlagSet("provider list", flag.ContinueOnError)
	dao := fs.String("idao", "", "only this iDAO's providers")
	if _, err := cli.Parse(fs, args); err != nil {
		return err
	}
	l, err := chainClient(env).Providers(ctx, *dao)
	if err != nil {
		return err
	}
	return env.Print(l, func(w io.Writer) {
		tw := tabwriter.NewWriter(w, 0, 2, 2, ' ', 0)
		fmt.Fprintln(tw, "ADDRESS\tIDAO\tENCLAVE\tFEE\tSTAKE\tATTESTED")
		for _, p := range l.Providers {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%v\n", p.Address.Hex(), p.IDAO, p.Enclave.Hex(), p.Fee, p.Stake, p.Attested)
		}
		tw.Flush()
	})
}

// providerArg parses the one PROVIDER argument.
func providerArg(pos []string, usage string) (common.Address, error) {
	if len(pos) != 1 || !common.IsHexAddress(pos[0]) {
		return common.Address{}, cli.Usagef("%s (PROVIDER is a 0x address: see `vsc provider list`)", usage)
	}
	return common.HexToAddress(pos[0]), nil
}

// escrowArgs parses PROVIDER [--amount N] --key FILE.
func escrowArgs(name, usage string, args []string, amountRequired bool) (common.Address, *big.Int, *ecdsa.PrivateKey, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	amount := fs.String("amount", "", "base units")
	keyPath := fs.String("key", "", "the app's key file")
	pos, err := cli.Parse(fs, args)
	if err != nil {
		return common.Address{}, nil, nil, err
	}
	p, err := providerArg(pos, usage)
	if err != nil {
		return common.Address{}, nil, nil, err
	}
	var amt *big.Int
	if *amount != "" || amountRequired {
		if amt, err = parseAmount(*amount, "amount"); err != nil {
			return common.Address{}, nil, nil, err
		}
	}
	k, err := loadKeyFlag(*keyPath)
	return p, amt, k, err
}

func cmdEscrowDeposit(ctx context.Context, env *cli.Env, args []string) error {
	p, amt, k, err := escrowArgs("escrow deposit", "vsc escrow deposit PROVIDER --amount N --key FILE", args, true)
	if err != nil {
		return err
	}
	r, err := chainClient(env).DepositEscrow(ctx, k, p, amt)
	if err != nil {
		return err
	}
	return env.Print(r, func(w io.Writer) {
		fmt.Fprintf(w, "deposited %s with provider %s: sub-account holds %s (tx %s)\n", r.Amount, p.Hex(), r.Balance, r.Tx.Hex())
	})
}

func cmdEscrowRefund(ctx context.Context, env *cli.Env, args []string) error {
	p, amt, k, err := escrowArgs("escrow refund", "vsc escrow refund PROVIDER [--amount N] --key FILE", args, false)
	if err != nil {
		return err
	}
	r, err := chainClient(env).RefundEscrow(ctx, k, p, amt)
	if err != nil {
		return err
	}
	return env.Print(r, func(w io.Writer) {
		fmt.Fprintf(w, "refund of %s from provider %s started: withdraw it from %s with `vsc escrow withdraw %s --key FILE`\n",
			r.Amount, p.Hex(), time.Unix(int64(r.Unlocks), 0).UTC().Format(time.RFC3339), p.Hex())
	})
}

func cmdEscrowWithdraw(ctx context.Context, env *cli.Env, args []string) error {
	fs := flag.NewFlagSet("escrow withdraw", flag.ContinueOnError)
	keyPath := fs.String("key", "", "the app's key file")
	pos, err := cli.Parse(fs, args)
	if err != nil {
		return err
	}
	p, err := providerArg(pos, "vsc escrow withdraw PROVIDER --key FILE")
	if err != nil {
		return err
	}
	k, err := loadKeyFlag(*keyPath)
	if err != nil {
		return err
	}
	r, err := chainClient(env).WithdrawEscrow(ctx, k, p)
	if err != nil {
		return err
	}
	return env.Print(r, func(w io.Writer) {
		fmt.Fprintf(w, "withdrew %s from provider %s (tx %s)\n", r.Amount, p.Hex(), r.Tx.Hex())
	})
}

func cmdEscrowShow(ctx context.Context, env *cli.Env, args []string) error {
	fs := flag.NewFlagSet("escrow show", flag.ContinueOnError)
	keyPath := fs.String("key", "", "the app's key file")
	addr := fs.String("address", "", "the app's address")
	if _, err := cli.Parse(fs, args); err != nil {
		return err
	}
	var a common.Address
	switch {
	case *addr != "" && common.IsHexAddress(*addr):
		a = common.HexToAddress(*addr)
	case *keyPath != "":
		k, err := loadKeyFlag(*keyPath)
		if err != nil {
			return err
		}
		a = keys.Address(k)
	default:
		return cli.Usagef("vsc escrow show (--key FILE | --address ADDR)")
	}
	e, err := chainClient(env).Escrow(ctx, a)
	if err != nil {
		return err
	}
	return env.Print(e, func(w io.Writer) {
		tw := tabwriter.NewWriter(w, 0, 2, 2, ' ', 0)
		fmt.Fprintln(tw, "PROVIDER\tBALANCE\tPENDING REFUND\tUNLOCKS AT\tNONCE")
		for _, acc := range e.Accounts {
			unlocks := "-"
			if acc.UnlocksAt != 0 {
				unlocks = time.Unix(int64(acc.UnlocksAt), 0).UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", acc.Provider.Hex(), acc.Balance, acc.PendingRefund, unlocks, acc.Nonce)
		}
		tw.Flush()
	})
}

// queryFlags are `vsc query`'s flags.
type queryFlags struct {
	token, keyPath, provider, maxFee, out, sequencer string
	units                                            uint64
	timeout                                          time.Duration
}

func cmdQuery(ctx context.Context, env *cli.Env, args []string) error {
	fs := flag.NewFlagSet("query", flag.ContinueOnError)
	var f queryFlags
	fs.StringVar(&f.token, "token", "", "the DAT token whose units pay for the query")
	fs.StringVar(&f.keyPath, "key", "", "the app's key file (it owns the token; the answer is encrypted to it)")
	fs.StringVar(&f.provider, "provider", "", "the provider (default: the first attested provider of the class's iDAO)")
	fs.Uint64Var(&f.units, "units", 1, "units the query spends")
	fs.StringVar(&f.maxFee, "max-fee", "", "the most the query may cost (default: the provider's fee)")
	fs.DurationVar(&f.timeout, "timeout", time.Minute, "how long to wait for the answer")
	fs.StringVar(&f.out, "out", "", "save the verifiable answer to this file (`vsc job verify FILE`)")
	fs.StringVar(&f.sequencer, "sequencer", env.Var("VSC_SEQUENCER", ""), "the chain's sequencer: the iDAO's policy and enclave key are checked in chain state proven under its signature")
	pos, err := cli.Parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return cli.Usagef("vsc query CLASS 'SELECT …' --token TOKEN --key FILE")
	}
	o, k, err := f.options(pos)
	if err != nil {
		return err
	}
	c := client.New(env.API)
	a, err := trustAnchor(ctx, env, c, f.sequencer)
	if err != nil {
		return err
	}
	o.Progress = func(s string) { env.Progress("job %s", s) }
	r, err := c.Query(ctx, k, o)
	if err != nil {
		return a.explain(err)
	}
	a.keep(env, r.Saved.ProvenAt)
	if r.Simulated {
		env.Progress("warning: the answering enclave is a SIMULATED one (the iDAO's TEE policy accepts them): fine for a devnet, never for real data")
	}
	if f.out != "" {
		if err := client.WriteSaved(f.out, r.Saved); err != nil {
			return err
		}
	}
	return env.Print(r, func(w io.Writer) { printQuery(w, r) })
}

func (f *queryFlags) options(pos []string) (client.QueryOptions, *ecdsa.PrivateKey, error) {
	var o client.QueryOptions
	class, err := parseHash(pos[0], "CLASS")
	if err != nil {
		return o, nil, err
	}
	token, err := parseHash(f.token, "--token")
	if err != nil {
		return o, nil, err
	}
	o = client.QueryOptions{Class: class, Token: token, Query: pos[1], Units: f.units, Timeout: f.timeout}
	if f.provider != "" {
		if !common.IsHexAddress(f.provider) {
			return o, nil, cli.Usagef("--provider must be a 0x address")
		}
		o.Provider = common.HexToAddress(f.provider)
	}
	if f.maxFee != "" {
		if o.MaxFee, err = parseAmount(f.maxFee, "max-fee"); err != nil {
			return o, nil, err
		}
	}
	k, err := loadKeyFlag(f.keyPath)
	return o, k, err
}

func printQuery(w io.Writer, r *client.QueryResult) {
	tw := tabwriter.NewWriter(w, 0, 2, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, strings.Join(r.Result.Columns, "\t")+"\t")
	for _, row := range r.Result.Rows {
		fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
	}
	tw.Flush()
	fmt.Fprintf(w, "verified: signed by the iDAO's attested enclave, result hash %s\n", r.ResultHash.Hex())
	if r.SuppressedGroups > 0 {
		fmt.Fprintf(w, "%d groups suppressed (fewer records than the iDAO's min_group_size)\n", r.SuppressedGroups)
	}
	fmt.Fprintf(w, "job %s: %s, %d units", r.Job.Hex(), r.Status, r.Units)
	if r.Settlement != nil {
		fmt.Fprintf(w, ", fee %s, settled in block %d (tx %s)", r.Fee, r.Settlement.Block, r.Settlement.Tx.Hex())
	}
	fmt.Fprintln(w)
}

func cmdJobShow(ctx context.Context, env *cli.Env, args []string) error {
	fs := flag.NewFlagSet("job show", flag.ContinueOnError)
	pos, err := cli.Parse(fs, args)
	if err != nil {
		return err
	}
	id, err := oneHash(pos, "vsc job show JOB", "JOB")
	if err != nil {
		return err
	}
	v, err := chainClient(env).Job(ctx, id)
	if err != nil {
		return err
	}
	out := map[string]any{"job": v.Job, "status": v.Status, "class": v.Class, "token": v.Token, "app": v.App, "provider": v.Provider,
		"units": v.Units, "fee": v.Fee, "deadline": v.Deadline, "result_hash": v.ResultHash, "settlement": v.Settlement, "reason": v.Reason}
	return env.Print(out, func(w io.Writer) {
		fmt.Fprintf(w, "job %s: %s\n  class %s  token %s\n  app %s  provider %s\n  units %d  max fee %s  deadline %s\n",
			v.Job.Hex(), v.Status, v.Class.Hex(), v.Token.Hex(), v.App.Hex(), v.Provider.Hex(), v.Units, v.MaxFee,
			time.Unix(int64(v.Deadline), 0).UTC().Format(time.RFC3339))
		if v.Settlement != nil {
			fmt.Fprintf(w, "  settled in block %d (tx %s), fee %s\n", v.Settlement.Block, v.Settlement.Tx.Hex(), deref(v.Fee))
		}
		if v.Reason != nil {
			fmt.Fprintf(w, "  reason: %s\n", *v.Reason)
		}
	})
}

func cmdJobVerify(ctx context.Context, env *cli.Env, args []string) error {
	fs := flag.NewFlagSet("job verify", flag.ContinueOnError)
	keyPath := fs.String("key", "", "the app's key file: also decrypt the result and check it against the signed hash")
	pos, err := cli.Parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return cli.Usagef("vsc job verify FILE [--key FILE]")
	}
	s, err := client.ReadSaved(pos[0])
	if err != nil {
		return err
	}
	var k *ecdsa.PrivateKey
	if *keyPath != "" {
		if k, err = loadKeyFlag(*keyPath); err != nil {
			return err
		}
	}
	pl, err := client.VerifySaved(s, k)
	if err != nil {
		return err
	}
	out := map[string]any{"valid": true, "job": s.Answer.Job, "result_hash": s.Answer.ResultHash, "decrypted": pl != nil}
	if pl != nil {
		out["result"] = map[string]any{"columns": pl.Columns, "rows": pl.Rows}
	}
	if ak := s.Answer.AnswerKey; ak != nil {
		out["answer_key"] = ak.Key
	}
	return env.Print(out, func(w io.Writer) {
		fmt.Fprintf(w, "valid: job %s answered by an enclave attested under the saved TEE policy (proven at block %d), result hash %s\n",
			s.Answer.Job.Hex(), s.ProvenAt, s.Answer.ResultHash.Hex())
		if ak := s.Answer.AnswerKey; ak != nil && pl == nil {
			fmt.Fprintf(w, "encrypted to the answer key %s the app bound to the job (the Web UI's, held only by the page that ran the query): the rows are not readable with the account key\n", ak.Key)
		}
		if pl != nil {
			fmt.Fprintf(w, "decrypted: %d columns, %d rows, matching the signed result hash\n", len(pl.Columns), len(pl.Rows))
		}
	})
}
