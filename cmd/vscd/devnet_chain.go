package main

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/chain"
	"github.com/vsc-labs/vsc/chain/node"
	"github.com/vsc-labs/vsc/chain/tx"
	"github.com/vsc-labs/vsc/coordinator/chainlink"
	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/internal/keys"
	"github.com/vsc-labs/vsc/optimistic"
	"github.com/vsc-labs/vsc/prover"
	"github.com/vsc-labs/vsc/tee"
)

// Devnet economics: every dev account starts with devFunds base units;
// members stake devStake each; a DAT unit costs devPrice.
var (
	devFunds = mustBig("1000000000000000000000000") // 1e24
	devStake = big.NewInt(1000)
	devPrice = big.NewInt(10)
)

// devnetBlockTime is how often the devnet's chain seals the txs waiting:
// short, so a certified submission is anchored and minted within a block or
// two (a block costs a state commit, a few ms on this machine).
const devnetBlockTime = 100 * time.Millisecond

func mustBig(s string) *big.Int {
	v, ok := new(big.Int).SetString(s, 10)
	if !ok {
		panic(s)
	}
	return v
}

// zkShape is the zk circuit shape of the demo iDAO: chunks of --zk-chunk
// records of 4 int64 fields (like examples/weather.csv).
func (d *devnet) zkShape() prover.Shape { return prover.DefaultShape(d.cfg.Coordinator.ZKChunk, 4) }

func (d *devnet) key(name string) *ecdsa.PrivateKey {
	k, err := keys.Load(d.keyPaths[name])
	if err != nil {
		panic(err) // created by initKeys
	}
	return k
}

// initProverKeys loads (or, on first start, makes) the zk keys of the demo
// shape, cached under DIR/zk-keys. A key made here is for development only.
func (d *devnet) initProverKeys(ctx context.Context) error {
	dir := d.cfg.ZKKeys
	if dir == "" {
		dir = filepath.Join(d.cfg.Data, "zk-keys")
	}
	km, err := prover.NewKeyManager(dir, d.log)
	if err != nil {
		return err
	}
	d.log.Info("devnet: zk keys for the demo shape (first start runs a Groth16 setup; a dev-only key)", "shape", d.zkShape().String())
	hashes, err := km.Warm(ctx, d.zkShape())
	if err != nil {
		return err
	}
	d.zkKeys, d.vkHash = km, hashes[0]
	return nil
}

// initChain starts the in-process sequencer with a dev genesis funding
// every dev key.
func (d *devnet) initChain(ctx context.Context) error {
	dir := filepath.Join(d.cfg.Data, "chain")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	seq := d.key("sequencer")
	var g *chain.Genesis
	if _, err := os.Stat(filepath.Join(dir, "chain.db")); err != nil {
		g = &chain.Genesis{ChainID: d.cfg.Coordinator.ChainID, Time: uint64(time.Now().UnixMilli()),
			Sequencer: keys.Address(seq), GasPrice: "1", Alloc: map[common.Address]string{},
			// a devnet's disputes are quick: 3 s windows, 6 s clocks (ms of block time)
			Optimistic: &optimistic.Params{Window: 3000, Clock: 6000, MinClaimBond: big.NewInt(1000),
				MinChallengeBond: big.NewInt(1000), WinnerShareBps: 5000, EquivocationShareBps: 5000},
			// and its staking: a 30 s slashing window, a 60 s unstake delay, a
			// stake of 100 at least
			Staking: &idao.Params{SlashWindow: 30, MinUnstakeDelay: 60, MinStake: big.NewInt(100), MaxMembers: idao.DefaultMaxMembers,
				QCStakeWindow: idao.DefaultQCStakeWindow}}
		for _, p := range d.keyPaths {
			k, err := keys.Load(p)
			if err != nil {
				return err
			}
			g.Alloc[keys.Address(k)] = devFunds.String()
		}
	}
	policy := tee.DevPolicy()
	n, err := node.New(node.Config{DataDir: dir, Genesis: g, SequencerKey: seq, Lanes: d.cfg.Lanes,
		Enclave: tee.KeyRegistry{Default: &policy}, BlockTime: devnetBlockTime, Logger: d.log.With("role", "chain")})
	if err != nil {
		return err
	}
	if err := n.Start(ctx); err != nil {
		n.Close()
		return err
	}
	d.chain = n
	d.onStop(func(context.Context) error { return n.Close() })
	d.link = &chainlink.Node{N: n, Key: d.key("coordinator")}
	return nil
}

// bootstrapChain puts the demo iDAO on chain on first start: created by
// member-1 with the devnet policy (modes, price, the development TEE policy
// and the zk verifying key), staked by every member, with the enclave key
// registered (the chain verifies its attestation on the way in).
func (d *devnet) bootstrapChain(ctx context.Context) error {
	if _, err := d.chain.IDAO("demo"); err == nil {
		return nil
	}
	teePolicy, err := json.Marshal(tee.DevPolicy())
	if err != nil {
		return err
	}
	owner := d.key("member-1")
	policy := idao.Policy{Modes: []string{"tee+zk", "tee", "zk", "optimistic"}, Price: devPrice,
		TEEPolicy: teePolicy, VKHash: d.vkHash, UnstakeDelay: 60}
	steps := []struct {
		who  *ecdsa.PrivateKey
		body tx.Body
	}{
		{owner, &tx.IDAOCreate{Name: "demo", Policy: policy, Stake: devStake}},
		{owner, &tx.VKRegister{IDAO: "demo", Circuit: d.zkShape().String(), VKHash: d.vkHash}},
		{owner, &tx.EnclaveRegister{IDAO: "demo", PubKey: d.enclave.PublicKeyBytes(), Report: tee.EncodeAttestation(d.enclave.KeyAttestation())}},
	}
	for i := 2; i <= d.cfg.Quorum; i++ {
		steps = append(steps, struct {
			who  *ecdsa.PrivateKey
			body tx.Body
		}{d.key(fmt.Sprintf("member-%d", i)), &tx.IDAOJoin{Name: "demo", Amount: devStake}})
	}
	for _, s := range steps {
		if err := sendAndWait(ctx, d.chain, s.who, s.body); err != nil {
			return fmt.Errorf("bootstrap %s: %w", s.body.Kind(), err)
		}
	}
	d.log.Info("devnet: demo iDAO on chain", "members", d.cfg.Quorum, "vk", d.vkHash)
	return nil
}

// sendAndWait signs and submits one tx and waits for a successful receipt.
func sendAndWait(ctx context.Context, n *node.Node, key *ecdsa.PrivateKey, body tx.Body) error {
	fee := new(big.Int).Mul(n.Fee(body), big.NewInt(2))
	t, err := tx.New(n.ChainID(), n.NextNonce(keys.Address(key)), fee, body)
	if err != nil {
		return err
	}
	if t, err = t.Sign(key); err != nil {
		return err
	}
	h, err := n.SubmitTx(t)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	info, err := n.WaitReceipt(wctx, h)
	if err != nil {
		return err
	}
	if info.Receipt.Status != chain.StatusSuccess {
		return errors.New(info.Receipt.Error)
	}
	return nil
}
