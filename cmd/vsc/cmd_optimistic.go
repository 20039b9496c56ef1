package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math/big"
	"os"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/coordinator/client"
	"github.com/vsc-labs/vsc/internal/cli"
	"github.com/vsc-labs/vsc/internal/keys"
	"github.com/vsc-labs/vsc/internal/records"
	"github.com/vsc-labs/vsc/optimistic"
)

// defaultPlayPoll is how often `vsc challenge` reads the chain while it
// plays (--poll).
const defaultPlayPoll = time.Second

func cmdClaims(ctx context.Context, env *cli.Env, args []string) error {
	fs := flag.NewFlagSet("claims", flag.ContinueOnError)
	open := fs.Bool("open", false, "only claims not yet finalized or overturned")
	if pos, err := cli.Parse(fs, args); err != nil {
		return err
	} else if len(pos) != 0 {
		return cli.Usagef("vsc claims [--open] takes no arguments")
	}
	list, err := client.New(env.API).Claims(ctx, *open)
	if err != nil {
		return err
	}
	if list.Claims == nil {
		list.Claims = []*optimistic.Claim{}
	}
	return env.Print(list, func(w io.Writer) {
		if len(list.Claims) == 0 {
			fmt.Fprintln(w, "no claims")
			return
		}
		fmt.Fprintf(w, "%-66s  %-11s  %-10s  %-20s  %s\n", "CLAIM", "STATUS", "BOND", "WINDOW ENDS", "SUBMISSION")
		for _, c := range list.Claims {
			// window_ends is block time in unix ms
			ends := time.UnixMilli(int64(c.WindowEnd)).UTC().Format(time.RFC3339)
			fmt.Fprintf(w, "%-66s  %-11s  %-10s  %-20s  %s\n", c.ID.Hex(), c.Status, c.Bond, ends, c.Submission.Hex())
		}
	})
}

// challengeResult is `vsc challenge --json`.
type challengeResult struct {
	Claim    common.Hash `json:"claim"`
	Game     common.Hash `json:"game"`
	Status   string      `json:"status"` // the game's status ("active" with --no-play)
	Moves    uint32      `json:"moves"`
	Reason   string      `json:"reason,omitempty"`
	Computed common.Hash `json:"computed"` // the facts digest of your data
	Claimed  common.Hash `json:"claimed"`
}

// readDataset reads and parses the challenger's plaintext.
func readDataset(dataFile string) (*records.Dataset, error) {
	raw, err := os.ReadFile(dataFile)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", dataFile, err)
	}
	ds, err := records.Parse(raw)
	clear(raw)
	if err != nil {
		return nil, fmt.Errorf("%s is not a dataset: %w", dataFile, err)
	}
	return ds, nil
}

// recompute runs the claim's computation over ds (read from dataFile),
// which must be the data the claim's submission commits to.
func recompute(env *cli.Env, ds *records.Dataset, dataFile string, claim *optimistic.Claim) (*optimistic.Computation, error) {
	env.Progress("recomputing the trace of %d records…", ds.Len())
	k, err := optimistic.Compute(ds, claim.Fields, claim.FactsParams)
	if err != nil {
		return nil, fmt.Errorf("recompute: %w (does %s have the claim's %d fields?)", err, dataFile, len(claim.Fields))
	}
	if err := k.Matches(claim); err != nil {
		return nil, fmt.Errorf("%s is not the data this claim is about: it commits to %s (%d records), the submission to %s (%d records)",
			dataFile, k.Commitment.Hex(), k.Trace.N(), claim.Commitment.Hex(), claim.N)
	}
	return k, nil
}

// cmdChallenge runs `vsc challenge`: it recomputes the claim on the
// challenger's data, disputes it with a bond and plays the game.
func cmdChallenge(ctx context.Context, env *cli.Env, args []string) error {
	fs := flag.NewFlagSet("challenge", flag.ContinueOnError)
	bondS := fs.String("bond", "", "bond to lock, in base units (at least the iDAO policy's minimum)")
	keyFile := fs.String("key", "", "key file of the challenging account")
	dataFile := fs.String("data", "", "the plaintext dataset the claim is about")
	force := fs.Bool("force", false, "challenge even if your data gives the claimed result")
	noPlay := fs.Bool("no-play", false, "open the game and exit; do not play the bisection rounds")
	playPoll := fs.Duration("poll", defaultPlayPoll, "while playing, read the chain this often")
	pos, err := cli.Parse(fs, args)
	if err != nil {
		return err
	}
	const usage = "vsc challenge CLAIM_ID --bond N --key FILE --data FILE [--force] [--no-play]"
	claimID, err := oneHash(pos, usage, "CLAIM_ID")
	if err != nil {
		return err
	}
	bond, ok := new(big.Int).SetString(*bondS, 10)
	if !ok || bond.Sign() <= 0 {
		return cli.Usagef("--bond N must be a positive amount in base units (%s)", usage)
	}
	if *dataFile == "" {
		return cli.Usagef("--data FILE is required: the plaintext the claim's submission commits to")
	}
	key, err := loadKeyFlag(*keyFile)
	if err != nil {
		return err
	}
	ds, err := readDataset(*dataFile)
	if err != nil {
		return err
	}
	c := client.New(env.API)
	d, err := c.Claim(ctx, claimID)
	if err != nil {
		return err
	}
	claim := d.Claim
	k, err := recompute(env, ds, *dataFile, claim)
	if err != nil {
		return err
	}
	res := challengeResult{Claim: claimID, Computed: k.Trace.Final(), Claimed: claim.Result}
	if k.Agrees(claim) && !*force {
		return fmt.Errorf("your data gives the claimed result %s: a challenge would lose its bond (use --force to challenge anyway)", claim.Result.Hex())
	}
	if !claim.Open() {
		return fmt.Errorf("claim %s is already %s: nothing to challenge", claimID.Hex(), claim.Status)
	}
	req, err := k.ChallengeRequest(claim, bond)
	if err != nil {
		return err
	}
	if _, err := c.PostOptimistic(ctx, key, &optimistic.Action{Kind: optimistic.ActChallenge, ClaimID: claimID, Challenge: req}); err != nil {
		return fmt.Errorf("challenge claim %s: %w", claimID.Hex(), err)
	}
	res.Game = optimistic.GameID(claimID, keys.Address(key))
	res.Status = optimistic.GameActive
	env.Progress("challenged: game %s (your result %s, claimed %s)", res.Game.Hex(), res.Computed.Hex(), res.Claimed.Hex())
	if !*noPlay {
		g, err := c.PlayGame(ctx, key, k, claimID, res.Game, optimistic.Challenger, *playPoll, env.Progress)
		if err != nil {
			return err
		}
		res.Status, res.Moves, res.Reason = g.Status, g.Moves, g.Reason
	}
	return env.Print(res, func(w io.Writer) {
		fmt.Fprintf(w, "game %s: %s", res.Game.Hex(), res.Status)
		if res.Reason != "" {
			fmt.Fprintf(w, " (%s)", res.Reason)
		}
		fmt.Fprintln(w)
	})
}
