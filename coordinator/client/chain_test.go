package client_test

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/chain"
	chainapi "github.com/vsc-labs/vsc/chain/api"
	"github.com/vsc-labs/vsc/chain/proof"
	"github.com/vsc-labs/vsc/chain/tx"
	"github.com/vsc-labs/vsc/coordinator/client"
	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/internal/codes"
	"github.com/vsc-labs/vsc/internal/submission"
	"github.com/vsc-labs/vsc/internal/testenv"
	"github.com/vsc-labs/vsc/quorum"
)

func testKey(i int) *ecdsa.PrivateKey {
	k, _ := crypto.ToECDSA(crypto.Keccak256([]byte(fmt.Sprintf("client-chain-%d", i))))
	return k
}

// TestChainOverHTTP drives a real chain node through the SDK: transfer,
// receipts, balances, door errors with codes, and offline proofs.
func TestChainOverHTTP(t *testing.T) {
	t.Parallel()
	seq, alice, bob := testKey(0), testKey(1), testKey(2)
	g := &chain.Genesis{ChainID: 5, Sequencer: crypto.PubkeyToAddress(seq.PublicKey), GasPrice: "2",
		Alloc: map[common.Address]string{crypto.PubkeyToAddress(alice.PublicKey): "1000"}}
	_, api := testenv.ChainNode(t, g, seq, 10*time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := client.New(api)

	bobAddr := crypto.PubkeyToAddress(bob.PublicKey)
	got, err := c.SendChainTx(ctx, alice, &tx.Transfer{To: bobAddr, Amount: big.NewInt(100)})
	if err != nil {
		t.Fatal(err)
	}
	if got.Receipt.Fee != "46" { // (21 gas + ⌈23 body bytes / 16⌉) × price 2
		t.Fatalf("fee %s", got.Receipt.Fee)
	}
	acc, err := c.Balance(ctx, bobAddr)
	if err != nil || acc.Balance != "100" {
		t.Fatalf("bob %+v %v", acc, err)
	}
	a, _ := c.Balance(ctx, crypto.PubkeyToAddress(alice.PublicKey))
	if a.Balance != "854" || a.Nonce != 1 {
		t.Fatalf("alice %+v", a)
	}
	// Replaying the same nonce is refused at the door with a code.
	stale, _ := tx.New(5, 0, big.NewInt(100), &tx.Transfer{To: bobAddr, Amount: big.NewInt(1)})
	stale.Sign(alice)
	if _, err := c.SubmitChainTx(ctx, stale); !client.IsCode(err, codes.NonceReplayed) {
		t.Fatalf("stale nonce: %v", err)
	}
	// A failing tx returns its reason.
	if _, err := c.SendChainTx(ctx, bob, &tx.Transfer{To: bobAddr, Amount: big.NewInt(1000)}); err == nil {
		t.Fatal("overdraft accepted")
	}
	p, err := c.ChainTxProof(ctx, got.Hash)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := proof.VerifyJSON(p.Marshal(), g.Sequencer); err != nil {
		t.Fatal(err)
	}
	bp, err := c.BalanceProof(ctx, bobAddr)
	if err != nil {
		t.Fatal(err)
	}
	if err := bp.Verify(g.Sequencer); err != nil {
		t.Fatal(err)
	}
	head, err := c.ChainHead(ctx)
	if err != nil || head.Height < 1 {
		t.Fatalf("head %+v %v", head, err)
	}
	blk, err := c.ChainBlock(ctx, fmt.Sprint(*got.Block))
	if err != nil || len(blk.Txs) == 0 {
		t.Fatalf("block %+v %v", blk, err)
	}
	if _, err := c.ChainTx(ctx, common.HexToHash("0x01")); !client.IsCode(err, codes.NotFound) {
		t.Fatalf("missing tx: %v", err)
	}
}

// TestDATOverHTTP: anchor and mint through signed txs, then buy, redeem
// (with a sequencer-signed receipt), claim and transfer through the SDK.
func TestDATOverHTTP(t *testing.T) {
	t.Parallel()
	seq, member, contributor, app := testKey(10), testKey(11), testKey(12), testKey(13)
	addr := func(k *ecdsa.PrivateKey) common.Address { return crypto.PubkeyToAddress(k.PublicKey) }
	g := &chain.Genesis{ChainID: 6, Sequencer: addr(seq), Alloc: map[common.Address]string{
		addr(member): "100000", addr(contributor): "100000", addr(app): "100000"}}
	_, api := testenv.ChainNode(t, g, seq, 10*time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := client.New(api)
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(c.SendChainTx(ctx, member, &tx.IDAOCreate{Name: "demo", Policy: idao.Policy{Modes: []idao.Mode{"tee"}, Price: big.NewInt(4)}, Stake: big.NewInt(1000)}))
	signed := submission.Submission{IDAO: "demo", Mode: "tee", Class: "dataset", Contributor: addr(contributor),
		DataHash: common.HexToHash("0x77"), Records: 1, Nonce: 1}
	ssig, err := signed.Sign(6, contributor)
	if err != nil {
		t.Fatal(err)
	}
	sub, digest := signed.Digest(6), common.HexToHash("0x88")
	v := quorum.Vote{IDAO: "demo", Submission: sub, ResultDigest: digest, Approve: true}
	v.Sign(member, 6)
	head, err := c.ChainHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	must(c.SendChainTx(ctx, member, &tx.Anchor{IDAO: "demo", Submission: sub, ResultDigest: digest, Signed: signed, Signature: ssig,
		StakeHeight: head.Height, Votes: []tx.AnchorVote{{Member: v.Member, Sig: v.Signature}}}))
	must(c.SendChainTx(ctx, contributor, &tx.DATMint{Digest: digest, IDAO: "demo", URI: "ipfs://x"}))
	buy, err := c.BuyDAT(ctx, app, digest, 10)
	if err != nil || buy.Paid != "40" {
		t.Fatalf("buy %+v %v", buy, err)
	}
	red, err := c.RedeemDAT(ctx, app, buy.Token, 3)
	if err != nil || red.Left != 7 || red.Receipt.Signature == "" {
		t.Fatalf("redeem %+v %v", red, err)
	}
	cls, err := c.DATClass(ctx, digest)
	if err != nil || len(cls.Tokens) != 2 || cls.Revenue.Pool != "40" {
		t.Fatalf("class %+v %v", cls, err)
	}
	first := cls.Tokens[0].ID
	if cls.Tokens[0].Shares == 0 {
		first = cls.Tokens[1].ID
	}
	cl, err := c.ClaimDAT(ctx, contributor, first)
	if err != nil || cl.Claimed != "40" {
		t.Fatalf("claim %+v %v", cl, err)
	}
	tr, err := c.TransferDAT(ctx, app, buy.Token, addr(member), 2)
	if err != nil || tr.NewToken == nil {
		t.Fatalf("split %+v %v", tr, err)
	}
	if _, err := c.TransferDAT(ctx, contributor, buy.Token, addr(member), 0); err == nil {
		t.Fatal("transfer by a non-owner accepted")
	}
	mine, err := c.DATTokens(ctx, addr(member), common.Hash{})
	if err != nil || len(mine.Tokens) != 1 || mine.Tokens[0].Value != 2 {
		t.Fatalf("member tokens %+v %v", mine, err)
	}
	// The lists are paged; the SDK follows every page, one token at a time too.
	all, err := c.DATTokens(ctx, common.Address{}, common.Hash{})
	if err != nil || len(all.Tokens) != 3 {
		t.Fatalf("all tokens %+v %v", all, err)
	}
	paged := client.New(api)
	paged.PageLimit = 1
	one, err := paged.DATTokens(ctx, common.Address{}, common.Hash{})
	if err != nil || fmt.Sprint(tokenIDs(one)) != fmt.Sprint(tokenIDs(all)) {
		t.Fatalf("tokens one page at a time: %v %v, want %v", tokenIDs(one), err, tokenIDs(all))
	}
	if cl, err := paged.DATClasses(ctx); err != nil || len(cl.Classes) != 1 {
		t.Fatalf("classes %+v %v", cl, err)
	}
	if ds, err := paged.ChainIDAOs(ctx); err != nil || len(ds.IDAOs) != 1 {
		t.Fatalf("idaos %+v %v", ds, err)
	}
	if cs, err := paged.Claims(ctx, false); err != nil || len(cs.Claims) != 0 {
		t.Fatalf("claims %+v %v", cs, err)
	}
	var page chainapi.TokenList
	if err := getJSON(api+"/v1/chain/dat/tokens?limit=2", &page); err != nil || len(page.Tokens) != 2 || page.Next == "" {
		t.Fatalf("a page of 2: %+v %v", page, err)
	}
	if err := getJSON(api+"/v1/chain/dat/tokens?limit=1001", &page); err == nil || !strings.Contains(err.Error(), "max_page_limit") {
		t.Fatalf("limit 1001: %v", err)
	}
}

func tokenIDs(l *chainapi.TokenList) []common.Hash {
	var out []common.Hash
	for _, t := range l.Tokens {
		out = append(out, t.ID)
	}
	return out
}

// getJSON reads url into out; a non-200 answer is an error with its body.
func getJSON(url string, out any) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, body)
	}
	return json.Unmarshal(body, out)
}
