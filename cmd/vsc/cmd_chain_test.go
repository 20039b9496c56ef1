package main

import (
	"context"
	"encoding/json"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/chain"
	"github.com/vsc-labs/vsc/chain/tx"
	"github.com/vsc-labs/vsc/coordinator/client"
	"github.com/vsc-labs/vsc/internal/keys"
	"github.com/vsc-labs/vsc/internal/testenv"
)

// TestCLIChain runs the chain commands end to end against a real node:
// head, block, balance with a proof, tx proof and its offline check, which
// refuses an edited file.
func TestCLIChain(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	seq, err := keys.LoadOrCreate(filepath.Join(dir, "seq.key"))
	if err != nil {
		t.Fatal(err)
	}
	aliceFile := filepath.Join(dir, "alice.key")
	alice, err := keys.LoadOrCreate(aliceFile)
	if err != nil {
		t.Fatal(err)
	}
	g := &chain.Genesis{ChainID: 9, Sequencer: keys.Address(seq), Alloc: map[common.Address]string{keys.Address(alice): "5000"}}
	_, api := testenv.ChainNode(t, g, seq, 10*time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	bob := common.HexToAddress("0x00000000000000000000000000000000000000b0")
	sent, err := client.New(api).SendChainTx(ctx, alice, &tx.Transfer{To: bob, Amount: big.NewInt(77)})
	if err != nil {
		t.Fatal(err)
	}
	r := vsc(t, api, "balance", bob.Hex(), "--json", "--prove", filepath.Join(dir, "bal.json"))
	var bal map[string]any
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &bal) != nil || bal["balance"] != "77" || bal["proven"] != true {
		t.Fatalf("balance: %+v", r)
	}
	if r := vsc(t, api, "chain", "head", "--json"); r.code != 0 || !strings.Contains(r.stdout, `"state_root"`) {
		t.Fatalf("head: %+v", r)
	}
	if r := vsc(t, api, "chain", "block", "1", "--json"); r.code != 0 || !strings.Contains(r.stdout, sent.Hash.Hex()) {
		t.Fatalf("block: %+v", r)
	}
	proofFile := filepath.Join(dir, "proof.json")
	if r := vsc(t, api, "chain", "proof", sent.Hash.Hex(), "--out", proofFile); r.code != 0 {
		t.Fatalf("proof: %+v", r)
	}
	r = vsc(t, "http://127.0.0.1:1", "chain", "verify-proof", proofFile, "--sequencer", keys.Address(seq).Hex(), "--json")
	if r.code != 0 || !strings.Contains(r.stdout, `"valid": true`) {
		t.Fatalf("verify: %+v", r)
	}
	if r := vsc(t, api, "chain", "verify-proof", filepath.Join(dir, "bal.json")); r.code != 0 || !strings.Contains(r.stdout, "valid") {
		t.Fatalf("verify balance proof: %+v", r)
	}
	b, _ := os.ReadFile(proofFile)
	for _, i := range []int{len(b) / 3, len(b) / 2, len(b) - 10} {
		bad := append([]byte(nil), b...)
		bad[i] ^= 1
		f := filepath.Join(dir, "bad.json")
		os.WriteFile(f, bad, 0o644)
		if r := vsc(t, api, "chain", "verify-proof", f); r.code == 0 || !strings.Contains(r.stderr, "not a valid proof") {
			t.Fatalf("flipped byte %d accepted: %+v", i, r)
		}
	}
	if r := vsc(t, api, "dat", "redeem", "0x"+strings.Repeat("ab", 32), "--units", "1", "--key", aliceFile); r.code == 0 {
		t.Fatal("redeem of an unknown token succeeded")
	}
}
