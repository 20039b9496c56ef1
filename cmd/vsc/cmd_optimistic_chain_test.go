package main

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"fmt"
	"math/big"
	"path/filepath"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/chain"
	"github.com/vsc-labs/vsc/chain/tx"
	"github.com/vsc-labs/vsc/coordinator/client"
	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/internal/keys"
	"github.com/vsc-labs/vsc/internal/records"
	"github.com/vsc-labs/vsc/internal/submission"
	"github.com/vsc-labs/vsc/internal/testenv"
	"github.com/vsc-labs/vsc/optimistic"
	"github.com/vsc-labs/vsc/optimistic/watcher"
	"github.com/vsc-labs/vsc/tee/facts"
)

type oneDataset struct{ ds *records.Dataset }

func (d oneDataset) Dataset(context.Context, *optimistic.Claim) (*records.Dataset, error) {
	return d.ds, nil
}

// `vsc challenge` against a real chain node: a faulty executor's watcher
// claims and defends a wrong result; the CLI recomputes, challenges and
// plays every bisection round and the step until the claim is overturned.
func TestCLIChallengePlaysOnChain(t *testing.T) {
	t.Parallel()
	k := func(s string) *ecdsa.PrivateKey { x, _ := crypto.ToECDSA(crypto.Keccak256([]byte(s))); return x }
	seq, owner, contrib, execK, chalK := k("seq"), k("owner"), k("contrib"), k("exec"), k("chal")
	addr := func(x *ecdsa.PrivateKey) common.Address { return crypto.PubkeyToAddress(x.PublicKey) }
	const chainID = 4242
	g := &chain.Genesis{ChainID: chainID, Time: uint64(time.Now().UnixMilli()), Sequencer: addr(seq), GasPrice: "1",
		Alloc: map[common.Address]string{addr(owner): "1000000", addr(contrib): "1000000", addr(execK): "1000000", addr(chalK): "1000000"},
		Optimistic: &optimistic.Params{Window: 20_000, Clock: 20_000, MinClaimBond: big.NewInt(1000), MinChallengeBond: big.NewInt(500),
			WinnerShareBps: 5000, EquivocationShareBps: 5000}}
	_, api := testenv.ChainNode(t, g, seq, 10*time.Millisecond)
	ctx := context.Background()
	c := client.New(api)

	if _, err := c.SendChainTx(ctx, owner, &tx.IDAOCreate{Name: "opt", Policy: idao.Policy{Modes: []idao.Mode{idao.ModeOptimistic}, Price: big.NewInt(1)}, Stake: big.NewInt(idao.DefaultMinStake)}); err != nil {
		t.Fatal(err)
	}
	csv := "a,b\n"
	for i := range 50 {
		csv += fmt.Sprintf("%d,%d\n", i%6, i%4)
	}
	ds, err := records.Parse([]byte(csv))
	if err != nil {
		t.Fatal(err)
	}
	sub := &submission.Submission{IDAO: "opt", Mode: idao.ModeOptimistic, Class: "dataset", Contributor: addr(contrib),
		DataHash: common.Hash{1}, Commitment: records.Commitment(ds), Records: uint64(ds.Len()), Fields: uint32(len(ds.Fields)), Nonce: 1}
	sig, err := sub.Sign(chainID, contrib)
	if err != nil {
		t.Fatal(err)
	}
	ex := &watcher.Watcher{Chain: client.OptimisticChain{Client: c, Key: execK}, Data: oneDataset{ds}, Addr: addr(execK), Bond: big.NewInt(1000)}
	claim, err := ex.Claim(ctx, chainID, sub, sig, ds, facts.DefaultParams, big.NewInt(2000), true)
	if err != nil {
		t.Fatal(err)
	}
	ex.Every = 10 * time.Millisecond
	if err := ex.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ex.Stop(context.Background()) })

	dir := t.TempDir()
	keyFile := filepath.Join(dir, "chal.key")
	if err := keys.Save(keyFile, chalK); err != nil {
		t.Fatal(err)
	}
	data := writeFile(t, dir, "d.csv", csv)
	r := vsc(t, api, "challenge", claim.ID.Hex(), "--bond", "1000", "--key", keyFile, "--data", data, "--poll", "10ms", "--json")
	var out challengeResult
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &out) != nil {
		t.Fatalf("challenge: %+v", r)
	}
	if out.Status != optimistic.GameChallengerWon || out.Moves == 0 || out.Moves > 6 {
		t.Fatalf("game %s after %d moves (%s)\n%s", out.Status, out.Moves, out.Reason, r.stderr)
	}
	r = vsc(t, api, "claims", "--json")
	var list struct {
		Claims []struct{ ID, Status string } `json:"claims"`
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &list) != nil || len(list.Claims) != 1 || list.Claims[0].Status != optimistic.StatusOverturned {
		t.Fatalf("claims after the game: %+v", r)
	}
}
