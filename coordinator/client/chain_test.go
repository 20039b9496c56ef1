package client_test

import (
	"context"
	"crypto/ecdsa"
	"fmt"
	"math/big"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/chain"
	"github.com/vsc-labs/vsc/chain/node"
	"github.com/vsc-labs/vsc/chain/proof"
	"github.com/vsc-labs/vsc/chain/tx"
	"github.com/vsc-labs/vsc/coordinator/client"
)

func testKey(i int) *ecdsa.PrivateKey {
	k, _ := crypto.ToECDSA(crypto.Keccak256([]byte(fmt.Sprintf("client-chain-%d", i))))
	return k
}

// TestChainOverHTTP drives a real chain node through the SDK: transfer,
// receipts, balances, door errors with codes, and offline proofs.
func TestChainOverHTTP(t *testing.T) {
	seq, alice, bob := testKey(0), testKey(1), testKey(2)
	g := &chain.Genesis{ChainID: 5, Sequencer: crypto.PubkeyToAddress(seq.PublicKey), GasPrice: "2",
		Alloc: map[common.Address]string{crypto.PubkeyToAddress(alice.PublicKey): "1000"}}
	n, err := node.New(node.Config{DataDir: t.TempDir(), Genesis: g, SequencerKey: seq, BlockTime: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(n.Handler())
	defer srv.Close()
	c := client.New(srv.URL)

	bobAddr := crypto.PubkeyToAddress(bob.PublicKey)
	got, err := c.SendChainTx(ctx, alice, &tx.Transfer{To: bobAddr, Amount: big.NewInt(100)})
	if err != nil {
		t.Fatal(err)
	}
	if got.Receipt.Fee != "42" { // 21 gas × price 2
		t.Fatalf("fee %s", got.Receipt.Fee)
	}
	acc, err := c.Balance(ctx, bobAddr)
	if err != nil || acc.Balance != "100" {
		t.Fatalf("bob %+v %v", acc, err)
	}
	a, _ := c.Balance(ctx, crypto.PubkeyToAddress(alice.PublicKey))
	if a.Balance != "858" || a.Nonce != 1 {
		t.Fatalf("alice %+v", a)
	}
	// Replaying the same nonce is refused at the door with a code.
	stale, _ := tx.New(5, 0, big.NewInt(100), &tx.Transfer{To: bobAddr, Amount: big.NewInt(1)})
	stale.Sign(alice)
	if _, err := c.SubmitChainTx(ctx, stale); !client.IsCode(err, "nonce_replayed") {
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
	if _, err := c.ChainTx(ctx, common.HexToHash("0x01")); !client.IsCode(err, "not_found") {
		t.Fatalf("missing tx: %v", err)
	}
}
