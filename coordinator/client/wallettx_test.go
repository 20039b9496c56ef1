package client_test

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/chain"
	"github.com/vsc-labs/vsc/chain/tx"
	"github.com/vsc-labs/vsc/coordinator/client"
	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/internal/codes"
	"github.com/vsc-labs/vsc/internal/submission"
	"github.com/vsc-labs/vsc/internal/testenv"
	"github.com/vsc-labs/vsc/quorum"
)

// walletSigs signs typed data (JSON) with ethers v6 and with MetaMask's
// eth-sig-util (web/test/typeddata.mjs) as key, and returns both.
func walletSigs(t *testing.T, web string, td []byte, key *ecdsa.PrivateKey) (ethers, sigUtil []byte) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "tx.json")
	if err := os.WriteFile(file, td, 0o600); err != nil {
		t.Fatal(err)
	}
	raw, err := exec.Command("node", filepath.Join(web, "typeddata.mjs"), file, hexutil.Encode(crypto.FromECDSA(key))).Output()
	if err != nil {
		t.Fatalf("node typeddata.mjs: %v", err)
	}
	var sigs struct {
		Address    string `json:"address"`
		Ethers     string `json:"ethers"`
		EthSigUtil string `json:"eth_sig_util"`
	}
	if err := json.Unmarshal(raw, &sigs); err != nil || !strings.EqualFold(sigs.Address, crypto.PubkeyToAddress(key.PublicKey).Hex()) {
		t.Fatalf("node printed %s (%v)", raw, err)
	}
	e, err1 := hexutil.Decode(sigs.Ethers)
	s, err2 := hexutil.Decode(sigs.EthSigUtil)
	if err1 != nil || err2 != nil {
		t.Fatalf("signatures %s", raw)
	}
	return e, s
}

// TestWalletTxSignedByWalletLibraries: the typed data of an unsigned chain
// tx (client.UnsignedChainTx, tx.Tx.TypedData, as the Web UI gets it) is
// signed by ethers v6 and by @metamask/eth-sig-util alike; the chain takes
// the ethers-signed dat_buy and the eth-sig-util-signed dat_redeem
// (version 2) through the SDK, a signature by another wallet is refused
// before it is sent, and the class's redeems list the redeem (SDK
// ClassRedeems).
func TestWalletTxSignedByWalletLibraries(t *testing.T) {
	web := testenv.WebTest(t)
	t.Parallel()
	seq, member, contributor, app := testKey(30), testKey(31), testKey(32), testKey(33)
	addr := func(k *ecdsa.PrivateKey) common.Address { return crypto.PubkeyToAddress(k.PublicKey) }
	g := &chain.Genesis{ChainID: 1337, Sequencer: addr(seq), Alloc: map[common.Address]string{
		addr(member): "100000", addr(contributor): "100000", addr(app): "100000"}}
	_, api := testenv.ChainNode(t, g, seq, 10*time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := client.New(api)
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(c.SendChainTx(ctx, member, &tx.IDAOCreate{Name: "demo", Policy: idao.Policy{Modes: []idao.Mode{"tee"}, Price: big.NewInt(4)}, Stake: big.NewInt(1000)}))
	signed := submission.Submission{IDAO: "demo", Mode: "tee", Class: "dataset", Contributor: addr(contributor), DataHash: common.HexToHash("0x77"), Records: 1, Nonce: 1}
	ssig, _ := signed.Sign(1337, contributor)
	sub, class := signed.Digest(1337), common.HexToHash("0x88")
	v := quorum.Vote{IDAO: "demo", Submission: sub, ResultDigest: class, Approve: true}
	v.Sign(member, 1337)
	head, err := c.ChainHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	must(c.SendChainTx(ctx, member, &tx.Anchor{IDAO: "demo", Submission: sub, ResultDigest: class, Signed: signed, Signature: ssig,
		StakeHeight: head.Height, Votes: []tx.AnchorVote{{Member: v.Member, Sig: v.Signature}}}))
	must(c.SendChainTx(ctx, contributor, &tx.DATMint{Digest: class, IDAO: "demo", URI: "ipfs://x"}))

	// dat_buy: the wallet libraries agree; ethers' signature is sent
	if err := c.CheckBuy(ctx, addr(app), class, 10); err != nil {
		t.Fatal(err)
	}
	u, err := c.UnsignedChainTx(ctx, addr(app), &tx.DATBuy{Class: class, Units: 10})
	if err != nil {
		t.Fatal(err)
	}
	td, err := u.TypedData()
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(td)
	ethers, sigUtil := walletSigs(t, web, raw, app)
	if string(ethers) != string(sigUtil) {
		t.Fatalf("ethers signed %x, eth-sig-util %x", ethers, sigUtil)
	}
	// another wallet's signature is refused before anything is sent
	other, _ := walletSigs(t, web, raw, member)
	if _, _, err := c.SubmitWalletTx(ctx, u, other); err == nil || !strings.Contains(err.Error(), "bad signature") {
		t.Fatalf("another wallet's signature: %v", err)
	}
	bt, h, err := c.SubmitWalletTx(ctx, u, ethers)
	if err != nil || bt.Hash() != h {
		t.Fatalf("the ethers-signed dat_buy: %v", err)
	}
	got, err := c.WaitChainTx(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	// the same signed tx again is known, not a second buy
	if _, err := c.SubmitChainTx(ctx, bt); !client.IsCode(err, codes.KnownTx) && !client.IsCode(err, codes.NonceReplayed) {
		t.Fatalf("the signed dat_buy sent twice: %v", err)
	}
	if got.Version != 2 || got.Receipt.Status != "success" {
		t.Fatalf("wallet dat_buy: version %d, receipt %+v", got.Version, got.Receipt)
	}
	buy, err := client.BuyResult(got)
	if err != nil || buy.Units != 10 || buy.Class != class || buy.Paid != "40" {
		t.Fatalf("buy %+v %v", buy, err)
	}
	tk, err := c.DATToken(ctx, buy.Token)
	if err != nil || tk.Owner != addr(app) || tk.Value != 10 {
		t.Fatalf("token %+v %v", tk, err)
	}

	// dat_redeem signed by eth-sig-util
	u2, err := c.UnsignedChainTx(ctx, addr(app), &tx.DATRedeem{Token: buy.Token, Units: 3})
	if err != nil {
		t.Fatal(err)
	}
	td2, _ := u2.TypedData()
	raw2, _ := json.Marshal(td2)
	_, sigUtil2 := walletSigs(t, web, raw2, app)
	rt, err := u2.WithWalletSignature(sigUtil2)
	if err != nil {
		t.Fatalf("the eth-sig-util-signed dat_redeem: %v", err)
	}
	red, err := c.SendSignedChainTx(ctx, rt)
	if err != nil || red.Version != 2 {
		t.Fatalf("wallet dat_redeem %+v: %v", red, err)
	}
	rs, err := c.ClassRedeems(ctx, class, "", 0)
	if err != nil || len(rs.Redeems) != 1 || rs.Redeems[0].Tx != red.Hash || rs.Redeems[0].Units != 3 || rs.Redeems[0].Redeemer != addr(app) || rs.Next != "" {
		t.Fatalf("class redeems %+v %v", rs, err)
	}
	if tk, _ := c.DATToken(ctx, buy.Token); tk.Value != 7 {
		t.Fatalf("token holds %d units after redeeming 3 of 10", tk.Value)
	}
}
