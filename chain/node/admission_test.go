package node_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/vsc-labs/vsc/chain"
	"github.com/vsc-labs/vsc/chain/api"
	"github.com/vsc-labs/vsc/chain/node"
	"github.com/vsc-labs/vsc/chain/tx"
)

// startNode runs a node on g with cfg's limits.
func startNode(t *testing.T, g *chain.Genesis, cfg node.Config) *node.Node {
	t.Helper()
	cfg.DataDir, cfg.Genesis, cfg.SequencerKey = t.TempDir(), g, seqKey
	n, err := node.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

func signTx(t *testing.T, i int, nonce uint64, fee int64, body tx.Body) *tx.Tx {
	t.Helper()
	x, err := tx.New(chainID, nonce, big.NewInt(fee), body)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := x.Sign(key(i)); err != nil {
		t.Fatal(err)
	}
	return x
}

// A sender's pending txs are covered by its balance as a whole: fees and
// the amounts they move, not one fee against the committed balance.
func TestPendingTxsAreCoveredTogether(t *testing.T) {
	t.Parallel()
	g := genesis(2)
	g.Alloc[addr(1)] = "1000"
	n := startNode(t, g, node.Config{})
	send := func(nonce uint64, amount int64) error {
		_, err := n.SubmitTx(signTx(t, 1, nonce, 500, &tx.Transfer{To: addr(2), Amount: big.NewInt(amount)}))
		return err
	}
	if err := send(0, 600); err != nil { // 600 and its fee of 1000
		t.Fatal(err)
	}
	if err := send(1, 400); !errors.Is(err, node.ErrCannotAfford) || !strings.Contains(err.Error(), "pending") {
		t.Fatalf("a second tx that the balance cannot cover with the first: %v", err)
	}
	// fees alone add up too: zero transfers until the balance is spoken for
	fee := n.Fee(&tx.Transfer{To: addr(2), Amount: big.NewInt(0)}).Int64()
	var nonce uint64 = 1
	for ; nonce < 100; nonce++ {
		if err := send(nonce, 0); err != nil {
			if !errors.Is(err, node.ErrCannotAfford) {
				t.Fatal(err)
			}
			break
		}
	}
	first := 600 + n.Fee(&tx.Transfer{To: addr(2), Amount: big.NewInt(600)}).Int64()
	if pending := first + int64(nonce-1)*fee; pending > 1000 || pending+fee <= 1000 {
		t.Fatalf("%d txs pending (cost %d) on a balance of 1000", nonce, pending)
	}
	// once the first is in a block, its cost is off the pending sum
	if _, err := n.ProduceBlock(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n.PoolSize() != 0 {
		t.Fatalf("%d txs still pending", n.PoolSize())
	}
}

// The pool takes at most MaxPendingPerSender txs and
// MaxPendingBytesPerSender bytes of one sender, and its own totals; the
// refusal names the cap.
func TestPendingCaps(t *testing.T) {
	t.Parallel()
	g := genesis(3)
	g.Alloc[addr(1)] = "100000000000"
	g.Alloc[addr(2)] = "100000000000"
	n := startNode(t, g, node.Config{BlockTime: time.Hour})
	for i := range node.MaxPendingPerSender {
		if _, err := n.SubmitTx(signTx(t, 1, uint64(i), 1000, &tx.Transfer{To: addr(3), Amount: big.NewInt(1)})); err != nil {
			t.Fatalf("tx %d: %v", i, err)
		}
	}
	_, err := n.SubmitTx(signTx(t, 1, node.MaxPendingPerSender, 1000, &tx.Transfer{To: addr(3), Amount: big.NewInt(1)}))
	if !errors.Is(err, node.ErrSenderFull) || !strings.Contains(err.Error(), "MaxPendingPerSender") {
		t.Fatalf("tx past the per-sender count cap: %v", err)
	}
	// another sender is not held up by the first
	if _, err := n.SubmitTx(signTx(t, 2, 0, 1000, &tx.Transfer{To: addr(3), Amount: big.NewInt(1)})); err != nil {
		t.Fatal(err)
	}
	// bytes: big txs of one sender
	big1 := func(nonce uint64) *tx.Tx {
		return signTx(t, 2, nonce, 1<<20, &tx.EnclaveRegister{IDAO: "x", PubKey: []byte{4}, Report: make([]byte, tx.MaxSize-300)})
	}
	var nonce uint64 = 1
	for ; ; nonce++ {
		_, err := n.SubmitTx(big1(nonce))
		if err == nil {
			continue
		}
		if !errors.Is(err, node.ErrSenderFull) || !strings.Contains(err.Error(), "MaxPendingBytesPerSender") {
			t.Fatalf("big tx %d: %v", nonce, err)
		}
		break
	}
	if nonce < node.MaxPendingBytesPerSender/tx.MaxSize-1 || nonce > node.MaxPendingBytesPerSender/tx.MaxSize+1 {
		t.Fatalf("the byte cap let %d big txs in", nonce-1)
	}
}

func TestMempoolTotalCaps(t *testing.T) {
	t.Parallel()
	n := startNode(t, genesis(4), node.Config{BlockTime: time.Hour, MempoolSize: 2, MempoolBytes: 1 << 20})
	for i := 1; i <= 2; i++ {
		if _, err := n.SubmitTx(signTx(t, i, 0, 1000, &tx.Transfer{To: addr(4), Amount: big.NewInt(1)})); err != nil {
			t.Fatal(err)
		}
	}
	_, err := n.SubmitTx(signTx(t, 3, 0, 1000, &tx.Transfer{To: addr(4), Amount: big.NewInt(1)}))
	if !errors.Is(err, node.ErrMempoolFull) || !strings.Contains(err.Error(), "cap: 2 txs") {
		t.Fatalf("third tx in a pool of 2: %v", err)
	}
	n2 := startNode(t, genesis(4), node.Config{BlockTime: time.Hour, MempoolBytes: 2000})
	if _, err := n2.SubmitTx(signTx(t, 1, 0, 100_000, &tx.EnclaveRegister{IDAO: "x", Report: make([]byte, 1500)})); err != nil {
		t.Fatal(err)
	}
	_, err = n2.SubmitTx(signTx(t, 2, 0, 100_000, &tx.EnclaveRegister{IDAO: "x", Report: make([]byte, 1500)}))
	if !errors.Is(err, node.ErrMempoolFull) || !strings.Contains(err.Error(), "2000 bytes") {
		t.Fatalf("a tx past the pool's byte cap: %v", err)
	}
}

// A tx that fails the pre-checks when its block is built is dropped from
// the block (it pays nothing, gets no receipt), and so are its sender's
// later txs in the pool; the chain's blocks replay.
func TestPrecheckFailuresNeverEnterABlock(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	class, _ := h.setup()
	// 6's balance covers three fees at the door, but the buy (whose price
	// the door does not read) spends all but a few units of it
	left := h.n.Account(addr(6)).Balance.Int64()
	units := uint64(left / 5)
	for ; ; units-- { // the fee depends on the body's size
		if fee := h.n.Fee(&tx.DATBuy{Class: class, Units: units}).Int64(); int64(units)*5+fee <= left {
			break
		}
	}
	spend := &tx.DATBuy{Class: class, Units: units}
	t1, err := h.send(6, spend)
	if err != nil {
		t.Fatal(err)
	}
	t2, err := h.send(6, &tx.Transfer{To: addr(7), Amount: big.NewInt(0)})
	if err != nil {
		t.Fatal(err)
	}
	t3, err := h.send(6, &tx.Transfer{To: addr(7), Amount: big.NewInt(0)})
	if err != nil {
		t.Fatal(err)
	}
	head := h.n.Head().Height
	h.seal()
	if info, err := h.n.Tx(t1.Hash()); err != nil || info.Receipt.Status != chain.StatusSuccess {
		t.Fatalf("the buy: %v", err)
	}
	for _, x := range []*tx.Tx{t2, t3} {
		if _, err := h.n.Tx(x.Hash()); !errors.Is(err, node.ErrTxNotFound) {
			t.Fatalf("a tx whose fee was not covered is in a block: %v", err)
		}
		// a waiter learns at once that it will never land
		if _, err := h.n.WaitReceipt(context.Background(), x.Hash()); !errors.Is(err, node.ErrDropped) {
			t.Fatalf("wait for a dropped tx: %v", err)
		}
	}
	if h.n.PoolSize() != 0 || h.n.Head().Height != head+1 {
		t.Fatalf("pool %d, head %d", h.n.PoolSize(), h.n.Head().Height)
	}
	blk, _ := h.n.Block(head + 1)
	if len(blk.Txs) != 1 || blk.Header.TxCount != 1 {
		t.Fatalf("block of %d txs", len(blk.Txs))
	}
	// the sender goes on from the nonce the chain kept
	h.ok(1, &tx.Transfer{To: addr(6), Amount: big.NewInt(10_000)})
	h.ok(6, &tx.Transfer{To: addr(7), Amount: big.NewInt(1)})
	// SealTxs drops them too
	bad := h.build(7, 99, &tx.Transfer{To: addr(6), Amount: big.NewInt(1)})
	good := h.build(7, h.n.NextNonce(addr(7)), &tx.Transfer{To: addr(6), Amount: big.NewInt(1)})
	_, rs, err := h.n.SealTxs(context.Background(), []*tx.Tx{bad, good})
	if err != nil || len(rs) != 1 || rs[0].TxHash != good.Hash() || rs[0].Index != 0 {
		t.Fatalf("sealed %d receipts (%v)", len(rs), err)
	}
	want := h.n.Head()
	h.n.Close()
	res, err := node.Replay(context.Background(), h.dir, 2, nil)
	if err != nil || res.StateRoot != want.StateRoot {
		t.Fatalf("replay: %+v %v", res, err)
	}
	h.open()
}

// Admission errors reach HTTP clients with a stable code and a sentence,
// and the HTTP status of that code in the one table the coordinator shares
// (bad_signature is 401 and nonce_gap 409 there as in the coordinator's API).
func TestSubmitErrorCodes(t *testing.T) {
	t.Parallel()
	g := genesis(3)
	g.Alloc[addr(1)] = "100"
	n := startNode(t, g, node.Config{BlockTime: time.Hour})
	srv := httptest.NewServer(n.Handler())
	defer srv.Close()
	post := func(raw []byte) (int, *api.Error) {
		body, _ := json.Marshal(map[string]any{"raw": hexutil.Bytes(raw)})
		resp, err := http.Post(srv.URL+"/v1/chain/txs", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var e api.Error
		_ = json.NewDecoder(resp.Body).Decode(&e)
		return resp.StatusCode, &e
	}
	transfer := &tx.Transfer{To: addr(3), Amount: big.NewInt(1)}
	huge := signTx(t, 2, 0, 1<<30, &tx.EnclaveRegister{IDAO: "x", Report: make([]byte, tx.MaxSize)})
	for _, c := range []struct {
		name   string
		raw    []byte
		status int
		code   string
		says   string
	}{
		{"garbage", []byte{1, 2, 3}, 400, "malformed_tx", "malformed"},
		{"too large", huge.Encode(), 413, "tx_too_large", "too large"},
		{"a body over the limit", make([]byte, 2*tx.MaxSize), 413, "tx_too_large", "body is over"},
		{"wrong chain", func() []byte {
			x, _ := tx.New(chainID+1, 0, big.NewInt(1000), transfer)
			x.Sign(key(2))
			return x.Encode()
		}(), 400, "wrong_chain", "chain"},
		{"fee too low", signTx(t, 2, 0, 1, transfer).Encode(), 400, "fee_too_low", "max fee"},
		{"nonce gap", signTx(t, 2, 7, 1000, transfer).Encode(), 409, "nonce_gap", "nonce"},
		{"cannot afford", signTx(t, 1, 0, 1000, &tx.Transfer{To: addr(3), Amount: big.NewInt(99)}).Encode(), 400, "insufficient_balance", "balance"},
		{"bad signature", func() []byte {
			x := signTx(t, 2, 0, 1000, transfer)
			x.Sig[5] ^= 1
			y, _ := tx.Decode(x.Encode())
			return y.Encode()
		}(), 401, "bad_signature", "signature"},
		{"undecodable body", func() []byte {
			x := &tx.Tx{ChainID: chainID, MaxFee: big.NewInt(1000), Kind: tx.KindTransfer, Body: []byte{0xc1}}
			x.Sign(key(2))
			return x.Encode()
		}(), 400, "malformed_tx", "malformed"},
	} {
		status, e := post(c.raw)
		if status != c.status || e.Code != c.code || !strings.Contains(strings.ToLower(e.Message), c.says) {
			t.Errorf("%s: %d %q %q, want %d %q saying %q", c.name, status, e.Code, e.Message, c.status, c.code, c.says)
		}
	}
	// a tx the door took; its twin is known
	ok := signTx(t, 2, 0, 1000, transfer)
	if status, e := post(ok.Encode()); status != 202 {
		t.Fatalf("good tx: %d %+v", status, e)
	}
	if status, e := post(ok.Encode()); status != 400 || e.Code != "known_tx" {
		t.Fatalf("twin: %d %+v", status, e)
	}
}
