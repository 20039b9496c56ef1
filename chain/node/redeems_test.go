package node_test

import (
	"errors"
	"math/big"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/chain"
	"github.com/vsc-labs/vsc/chain/api"
	"github.com/vsc-labs/vsc/chain/exec"
	"github.com/vsc-labs/vsc/chain/node"
	"github.com/vsc-labs/vsc/chain/tx"
	"github.com/vsc-labs/vsc/internal/codes"
	"github.com/vsc-labs/vsc/internal/testenv/poll"
)

// buildTyped is a version-2 tx of i's, signed over its EIP-712 typed data
// as a wallet signs it.
func (h *harness) buildTyped(i int, body tx.Body) *tx.Tx {
	t, err := tx.New(chainID, h.n.NextNonce(addr(i)), big.NewInt(10_000), body)
	if err != nil {
		h.t.Fatal(err)
	}
	if _, err := t.SignTyped(key(i)); err != nil {
		h.t.Fatal(err)
	}
	return t
}

// TestWalletTxsAndClassRedeems: version-2 (wallet-signed) txs are admitted
// and executed beside version-1 ones — a dat_buy and a dat_redeem — and a
// follower re-executes them to the same state root; one signed by another
// key is refused at the door with bad_signature. The class's redeems are
// listed newest first by both nodes (GET
// /v1/chain/dat/classes/{id}/redeems: tx, block, token, units, redeemer,
// time), paged, without the failed redeem; a bad cursor or limit is
// invalid_field, an unknown class not_found; a restart keeps the list.
func TestWalletTxsAndClassRedeems(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	class, first := h.setup()
	h.ok(4, &tx.DATRedeem{Token: first, Units: 3}) // version 1
	buy := h.buildTyped(5, &tx.DATBuy{Class: class, Units: 4})
	if _, err := h.n.SubmitTx(buy); err != nil {
		t.Fatalf("a wallet-signed dat_buy refused: %v", err)
	}
	if r := h.seal(buy)[0]; r.Status != chain.StatusSuccess {
		t.Fatalf("wallet dat_buy: %s", r.Message())
	}
	bought := exec.NewTokenID(buy.Hash(), 0)
	if tk, err := h.n.Token(bought); err != nil || tk.Owner != addr(5) || tk.Value != 4 {
		t.Fatalf("bought token %+v %v", tk, err)
	}
	redeem := h.buildTyped(5, &tx.DATRedeem{Token: bought, Units: 2})
	over := h.build(5, h.n.NextNonce(addr(5))+1, &tx.DATRedeem{Token: bought, Units: 50}) // fails in its block
	for _, x := range []*tx.Tx{redeem, over} {
		if _, err := h.n.SubmitTx(x); err != nil {
			t.Fatal(err)
		}
	}
	if rs := h.seal(redeem, over); rs[0].Status != chain.StatusSuccess || rs[1].Status == chain.StatusSuccess {
		t.Fatalf("redeem %s, over-redeem %s", rs[0].Message(), rs[1].Message())
	}
	// a wallet signature of another account: refused, nothing pending
	forged, _ := tx.New(chainID, h.n.NextNonce(addr(6)), big.NewInt(10_000), &tx.DATBuy{Class: class, Units: 1})
	forged.From = addr(6)
	if _, err := forged.SignTyped(key(7)); err != nil {
		t.Fatal(err)
	}
	forged.From = addr(6) // signed by 7, claims to be 6
	bad, err := tx.Decode(forged.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.n.SubmitTx(bad); !errors.Is(err, node.ErrBadSignature) {
		t.Fatalf("a tx signed by another wallet: %v", err)
	}

	seqAPI := httptest.NewServer(h.n.Handler())
	defer seqAPI.Close()
	f := startFollower(t, t.TempDir(), seqAPI.URL, nil)
	if err := poll.Until(10*time.Second, caughtUp(h.n, f)); err != nil {
		t.Fatal(err)
	}
	if f.Head().StateRoot != h.n.Head().StateRoot {
		t.Fatal("the follower re-executed the wallet txs to another state root")
	}
	fAPI := httptest.NewServer(f.Handler())
	defer fAPI.Close()

	path := "/v1/chain/dat/classes/" + class.Hex() + "/redeems"
	for _, base := range []string{seqAPI.URL, fAPI.URL} {
		var l api.ClassRedeemList
		if code := getJSON(t, base+path, &l); code != 200 || len(l.Redeems) != 2 || l.Next != "" {
			t.Fatalf("%s: %d %+v", base, code, l)
		}
		newest, older := l.Redeems[0], l.Redeems[1]
		ri, _ := h.n.Tx(redeem.Hash())
		blk, _ := h.n.Block(ri.Height)
		if newest.Tx != redeem.Hash() || newest.Token != bought || newest.Units != 2 || newest.Redeemer != addr(5) ||
			newest.Block != ri.Height || newest.Index != ri.Index || newest.Time != blk.Header.Time {
			t.Fatalf("%s: newest redeem %+v, want tx %s at %d", base, newest, redeem.Hash(), ri.Height)
		}
		if older.Token != first || older.Units != 3 || older.Redeemer != addr(4) || older.Block >= newest.Block {
			t.Fatalf("%s: older redeem %+v", base, older)
		}
		// paged: one a page, the second page is the older one, and the last
		var p1, p2 api.ClassRedeemList
		getJSON(t, base+path+"?limit=1", &p1)
		if len(p1.Redeems) != 1 || p1.Redeems[0].Tx != newest.Tx || p1.Next == "" {
			t.Fatalf("%s: first page %+v", base, p1)
		}
		getJSON(t, base+path+"?limit=1&cursor="+url.QueryEscape(p1.Next), &p2)
		if len(p2.Redeems) != 1 || p2.Redeems[0].Tx != older.Tx || p2.Next != "" {
			t.Fatalf("%s: second page %+v", base, p2)
		}
		for q, want := range map[string]codes.Code{"?limit=0": codes.InvalidField, "?limit=1001": codes.InvalidField, "?cursor=AAAA": codes.InvalidField,
			"?cursor=!!": codes.InvalidField} {
			var e codes.Error
			if code := getJSON(t, base+path+q, &e); code != 400 || e.Code != want {
				t.Fatalf("%s%s: %d %+v, want %s", base, q, code, e, want)
			}
		}
		var e codes.Error
		if code := getJSON(t, base+"/v1/chain/dat/classes/"+common.HexToHash("0xdead").Hex()+"/redeems", &e); code != 404 || e.Code != codes.NotFound {
			t.Fatalf("%s: unknown class: %d %+v", base, code, e)
		}
		if code := getJSON(t, base+"/v1/chain/dat/classes/0x12/redeems", &e); code != 400 {
			t.Fatalf("%s: a short class id: %d", base, code)
		}
	}
	// the committed tx shows its version
	var v api.Tx
	getJSON(t, seqAPI.URL+"/v1/chain/txs/"+buy.Hash().Hex(), &v)
	if v.Version != 2 || v.Kind != "dat_buy" || v.Sender != addr(5) {
		t.Fatalf("wallet tx view %+v", v)
	}
	h.reopen()
	if rs, _, err := h.n.ClassRedeems(class, nil, 10); err != nil || len(rs) != 2 || rs[0].Tx != redeem.Hash() {
		t.Fatalf("after a restart: %+v %v", rs, err)
	}
}
