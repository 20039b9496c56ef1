package main

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
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
	"github.com/vsc-labs/vsc/dat/escrow"
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

// devnetZKFields is how many fields the demo iDAO's widest zk shape has:
// it registers one shape per field count 1..devnetZKFields.
const devnetZKFields = 8

// zkShapes are the zk circuit shapes of the demo iDAO: chunks of
// --zk-chunk records of 1 to devnetZKFields int64 fields, any value.
func (d *devnet) zkShapes() []prover.Shape {
	out := make([]prover.Shape, devnetZKFields)
	for i := range out {
		out[i] = prover.DefaultShape(d.cfg.Coordinator.ZKChunk, i+1)
	}
	return out
}

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
	shapes := d.zkShapes()
	d.log.Info("devnet: zk keys for the demo shapes (first start runs a Groth16 setup per shape; dev-only keys)",
		"shapes", len(shapes), "chunk", d.cfg.Coordinator.ZKChunk)
	d.zkRegistered = make([]idao.ZKShape, len(shapes))
	for i, sh := range shapes {
		k, err := km.Keys(ctx, sh)
		if err != nil {
			return fmt.Errorf("zk keys for %s: %w", sh, err)
		}
		d.zkRegistered[i] = k.Registered()
	}
	d.zkKeys = km
	return nil
}

// devGenesis is a devnet's (and a local cluster's) genesis: quick
// disputes and staking, every funded account given devFunds.
func devGenesis(chainID uint64, seq common.Address, funded []common.Address) *chain.Genesis {
	g := &chain.Genesis{ChainID: chainID, Time: uint64(time.Now().UnixMilli()),
		Sequencer: seq, GasPrice: "1", Alloc: map[common.Address]string{},
		// a devnet's disputes are quick: 3 s windows, 6 s clocks (ms of block time)
		Optimistic: &optimistic.Params{Window: 3000, Clock: 6000, MinClaimBond: big.NewInt(1000),
			MinChallengeBond: big.NewInt(1000), WinnerShareBps: 5000, EquivocationShareBps: 5000},
		// and its staking: a 30 s slashing window, a 60 s unstake delay, a
		// stake of 100 at least
		Staking: &idao.Params{SlashWindow: 30, MinUnstakeDelay: 60, MinStake: big.NewInt(100), MaxMembers: idao.DefaultMaxMembers,
			QCStakeWindow: idao.DefaultQCStakeWindow},
		Services: &escrow.Params{RefundLock: devRefundLock}}
	for _, a := range funded {
		g.Alloc[a] = devFunds.String()
	}
	return g
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
		var funded []common.Address
		for _, p := range d.keyPaths {
			k, err := keys.Load(p)
			if err != nil {
				return err
			}
			funded = append(funded, keys.Address(k))
		}
		g = devGenesis(d.cfg.Coordinator.ChainID, keys.Address(seq), funded)
	}
	// iDAOs without a tee_policy of their own trust this devnet's simulation root
	policy := d.enclave.Policy()
	n, err := node.New(node.Config{DataDir: dir, Genesis: g, SequencerKey: seq, Lanes: d.cfg.Lanes,
		Enclave: tee.KeyRegistry{Default: &policy}, BlockTime: devnetBlockTime, Logger: d.log.With("role", "chain")})
	if err != nil {
		return err
	}
	d.chain = n
	if err := d.run(ctx, "chain", n); err != nil {
		return err
	}
	d.link = &chainlink.Local{Chain: n, Key: d.key("coordinator")}
	// the genesis is public: clients and `vscd quorum --genesis` take the
	// sequencer from it instead of asking an API
	raw, err := json.MarshalIndent(n.Genesis(), "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(d.genesisPath(), append(raw, '\n'), 0o644)
}

// genesisPath is where the devnet writes its genesis for clients and members.
func (d *devnet) genesisPath() string { return filepath.Join(d.cfg.Data, "genesis.json") }

// bootstrapChain puts the demo iDAO on chain on first start: created by
// member-1 with the devnet policy (modes, price, a TEE policy that trusts
// this devnet's simulation root alone, and the zk verifying key) and staked
// by every member. The enclave key is registered by the TEE worker's step.
func (d *devnet) bootstrapChain(ctx context.Context) error {
	if _, err := d.chain.IDAO("demo"); err == nil {
		return nil
	}
	teePolicy, err := json.Marshal(d.enclave.Policy())
	if err != nil {
		return err
	}
	owner := d.key("member-1")
	policy := idao.Policy{Modes: []idao.Mode{"tee+zk", "tee", "zk", "optimistic"}, Price: devPrice,
		TEEPolicy: teePolicy, UnstakeDelay: 60, ZKShapes: d.zkRegistered}
	steps := []struct {
		who  *ecdsa.PrivateKey
		body tx.Body
	}{
		{owner, &tx.IDAOCreate{Name: "demo", Policy: policy, Stake: devStake}},
	}
	for i, z := range d.zkRegistered {
		steps = append(steps, struct {
			who  *ecdsa.PrivateKey
			body tx.Body
		}{owner, &tx.VKRegister{IDAO: "demo", Circuit: d.zkShapes()[i].String(), VKHash: z.VKHash}})
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
	d.log.Info("devnet: demo iDAO on chain", "members", d.cfg.Quorum, "zk_shapes", len(d.zkRegistered))
	return nil
}

// registerEnclave registers the devnet enclave's key for the demo iDAO on
// chain unless it is registered already (the chain checks its attestation
// against the iDAO's TEE policy on the way in). A demo iDAO whose policy
// does not accept this enclave is a data dir from an older vsc, whose
// simulation root was public: the devnet refuses to run on it.
func (d *devnet) registerEnclave(ctx context.Context) error {
	dao, err := d.chain.IDAO("demo")
	if err != nil {
		return err
	}
	pub, report := d.enclave.PublicKeyBytes(), tee.EncodeAttestation(d.enclave.KeyAttestation())
	if err := (tee.KeyRegistry{}).VerifyEnclaveKey(dao.Name, dao.Policy.TEEPolicy, pub, report); err != nil {
		return fmt.Errorf("the demo iDAO's TEE policy on chain does not accept this devnet's enclave (%w): %s was made by an older vsc "+
			"whose simulation root was public; start a fresh devnet with another --data, or delete that directory", err, d.cfg.Data)
	}
	if ok, err := d.chain.EnclaveRegistered(dao.Name, pub); err != nil || ok {
		return err
	}
	if err := sendAndWait(ctx, d.chain, d.key("member-1"), &tx.EnclaveRegister{IDAO: dao.Name, PubKey: pub, Report: report}); err != nil {
		return fmt.Errorf("register the enclave key: %w", err)
	}
	d.log.Info("devnet: enclave key registered on chain", "idao", dao.Name, "enclave", d.enclave.Address())
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
		return info.Receipt.Err()
	}
	return nil
}
