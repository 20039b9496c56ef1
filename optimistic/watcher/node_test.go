package watcher

import (
	"context"
	"crypto/ecdsa"
	"fmt"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/chain"
	"github.com/vsc-labs/vsc/chain/tx"
	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/internal/records"
	"github.com/vsc-labs/vsc/internal/submission"
	"github.com/vsc-labs/vsc/internal/testenv"
	"github.com/vsc-labs/vsc/optimistic"
	"github.com/vsc-labs/vsc/tee/facts"
)

// On a real chain node: a faulty executor claims, an honest watcher
// overturns it through the chain's rules, and an honest claim finalizes.
func TestWatchersOnChainNode(t *testing.T) {
	t.Parallel()
	key := func(s string) *ecdsa.PrivateKey { k, _ := crypto.ToECDSA(crypto.Keccak256([]byte(s))); return k }
	seq, owner, contrib, execK, watchK := key("s"), key("o"), key("c"), key("e"), key("w")
	addr := func(k *ecdsa.PrivateKey) common.Address { return crypto.PubkeyToAddress(k.PublicKey) }
	const cid = 777
	g := &chain.Genesis{ChainID: cid, Time: uint64(time.Now().UnixMilli()), Sequencer: addr(seq), GasPrice: "1",
		Alloc: map[common.Address]string{addr(owner): "1000000", addr(execK): "1000000", addr(watchK): "1000000"},
		Optimistic: &optimistic.Params{Window: 1500, Clock: 2000, MinClaimBond: big.NewInt(1000), MinChallengeBond: big.NewInt(500),
			WinnerShareBps: 5000, EquivocationShareBps: 5000}}
	n, _ := testenv.ChainNode(t, g, seq, 5*time.Millisecond)
	ctx := context.Background()
	if err := (NodeChain{N: n, Key: owner}).Send(ctx, &tx.IDAOCreate{Name: "opt", Policy: idao.Policy{Modes: []idao.Mode{idao.ModeOptimistic}, Price: big.NewInt(1)}, Stake: big.NewInt(idao.DefaultMinStake)}); err != nil {
		t.Fatal(err)
	}
	data := plain{}
	ex := &Watcher{Chain: NodeChain{N: n, Key: execK}, Data: data, Addr: addr(execK), Bond: big.NewInt(1000)}
	wa := &Watcher{Chain: NodeChain{N: n, Key: watchK}, Data: data, Addr: addr(watchK), Bond: big.NewInt(1000)}
	var ids []common.Hash
	for i, faulty := range []bool{true, false} {
		ds := &records.Dataset{Fields: []string{"x", "y"}}
		for j := range 60 + i {
			ds.Records = append(ds.Records, []int64{int64(j % 9), int64(j % 4)})
		}
		data[records.Commitment(ds)] = ds
		sub := &submission.Submission{IDAO: "opt", Mode: idao.ModeOptimistic, Class: "dataset", Contributor: addr(contrib),
			DataHash: common.Hash{byte(i)}, Commitment: records.Commitment(ds), Records: uint64(ds.Len()), Fields: uint32(len(ds.Fields)), Nonce: uint64(i)}
		sig, _ := sub.Sign(cid, contrib)
		c, err := ex.Claim(ctx, cid, sub, sig, ds, facts.DefaultParams, big.NewInt(2000), faulty)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.ID)
	}
	for _, w := range []*Watcher{ex, wa} {
		w.Every = 5 * time.Millisecond
		if err := w.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = w.Stop(context.Background()) })
	}
	testenv.Eventually(t, 20*time.Second, func() error {
		a, errA := n.Claim(ids[0])
		b, errB := n.Claim(ids[1])
		if errA == nil && errB == nil && a.Status == optimistic.StatusOverturned && a.ActiveGames == 0 && b.Status == optimistic.StatusFinalized {
			return nil
		}
		return fmt.Errorf("claims not settled: %+v %+v", a, b)
	})
	games := n.Games(ids[0])
	if len(games) != 1 || games[0].Status != optimistic.GameChallengerWon || games[0].Challenger != addr(watchK) {
		t.Fatalf("games: %+v", games)
	}
	if len(n.Games(ids[1])) != 0 {
		t.Fatal("the honest claim was challenged")
	}
	if acc := n.Account(addr(watchK)); acc.Bonded.Sign() != 0 || acc.Balance.Cmp(big.NewInt(1_000_000)) <= 0 {
		t.Fatalf("watcher account %+v", acc)
	}
}
