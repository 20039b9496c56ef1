package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/vsc-labs/vsc/chain/exec"
	"github.com/vsc-labs/vsc/chain/tx"
	"github.com/vsc-labs/vsc/coordinator"
	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/internal/keys"
	"github.com/vsc-labs/vsc/quorum"
)

// The chain's rows: hostile txs sent to the chain API by the outsider. A
// refusal at the door carries the API's code and changes nothing; a tx
// that fails in its body pays its fee (the state root moves by that) and
// is named by the code of the chain's reason (receiptCodes).

// receiptCodes names the chain's reasons for a failed receipt (receipts
// carry the reason's sentence; these are the attack suite's codes for
// them).
var receiptCodes = []struct {
	err  error
	code string
}{
	{exec.ErrSubmissionDigest, "submission_digest"},
	{exec.ErrWrongContributor, "wrong_contributor"},
	{exec.ErrAlreadyAnchored, "already_anchored"},
	{exec.ErrNoAnchor, "no_anchor"},
	{exec.ErrNotMinter, "not_minter"},
	{exec.ErrUnknownIDAO, "unknown_idao"},
	{exec.ErrUnknownBond, "unknown_bond"},
	{exec.ErrMismatch, "mismatch"},
	{idao.ErrStakeHeight, "stake_height"},
	{idao.ErrBelowMinStake, "below_min_stake"},
	{idao.ErrUnstakeDelay, "unstake_delay"},
	{idao.ErrAlreadySlashed, "already_slashed"},
	{quorum.ErrBadSignature, "bad_vote_signature"},
	{quorum.ErrNotEquivocal, "not_equivocal"},
	{quorum.ErrNoQuorum, "no_quorum"},
}

// onChain sends body as the attacker and names the chain's refusal: the
// door's code, or the failed receipt's (receiptCodes).
func (a *arena) onChain(body tx.Body) error {
	_, err := a.api.SendChainTx(context.Background(), a.attacker, body)
	if err == nil || errCode(err) != "uncoded" {
		return err
	}
	for _, c := range receiptCodes {
		if strings.Contains(err.Error(), c.err.Error()) {
			return withCode(c.code, err)
		}
	}
	return err
}

// postRaw posts bytes as a tx to the chain API and returns its refusal.
func (a *arena) postRaw(t *testing.T, raw []byte) error {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"raw": hexutil.Bytes(raw)})
	resp, err := http.Post("http://"+a.coord.Addr()+"/v1/chain/txs", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusAccepted {
		return nil
	}
	// read the wire's code name as it is: the chain's codes are its own
	var e struct {
		Code    string `json:"code"`
		Message string `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
		t.Fatalf("refusal body: %v", err)
	}
	return withCode(e.Code, errors.New(e.Message))
}

// attackerTx is a tx of the attacker with its next nonce and max fee.
func (a *arena) attackerTx(t *testing.T, fee int64, body tx.Body) *tx.Tx {
	t.Helper()
	acc, err := a.api.Balance(context.Background(), keys.Address(a.attacker))
	if err != nil {
		t.Fatal(err)
	}
	x, err := tx.New(1337, acc.NextNonce, big.NewInt(fee), body)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := x.Sign(a.attacker); err != nil {
		t.Fatal(err)
	}
	return x
}

// certified is what an outsider can read of a minted submission: its view
// (votes included) and its anchor item from the anchor tx on chain, with
// the contributor's signed submission and signature and the votes' batch
// proofs.
type certified struct {
	view *coordinator.SubmissionView
	item tx.AnchorItem
}

var minted = map[*arena]*certified{}

// mintedOne submits an honest dataset once (as the contributor), waits for
// its DAT and reads its anchor as an outsider would.
func (a *arena) mintedOne(t *testing.T) {
	t.Helper()
	if minted[a] != nil {
		return
	}
	v := a.wait(a.submit(dataset6, "tee"), 2*time.Minute)
	if v.Status != coordinator.Minted || v.Anchor == nil {
		t.Fatalf("honest submission: %s (%v)", v.Status, v.Reason)
	}
	got, err := a.api.ChainTx(context.Background(), v.Anchor.Tx)
	if err != nil {
		t.Fatal(err)
	}
	at, err := tx.Decode(got.Raw)
	if err != nil {
		t.Fatal(err)
	}
	b, err := at.DecodeBody()
	if err != nil {
		t.Fatal(err)
	}
	batch, ok := b.(*tx.AnchorBatch)
	if !ok {
		t.Fatalf("the anchor tx is a %s", at.Kind)
	}
	for _, it := range batch.Items {
		if it.Anchor.Submission == common.HexToHash(v.ID) {
			minted[a] = &certified{view: v, item: it}
			return
		}
	}
	t.Fatal("the anchor tx does not hold the submission")
}

// copiedAnchor is a copy of the minted submission's anchor, for edit.
func (a *arena) copiedAnchor(edit func(an *tx.Anchor)) *tx.Anchor {
	an := minted[a].item.Anchor
	an.Votes = append([]tx.AnchorVote(nil), an.Votes...)
	an.StakeHeight = a.chain.Head().Height
	edit(&an)
	return &an
}

func chainTransfer(a *arena) *tx.Transfer {
	return &tx.Transfer{To: keys.Address(a.key("app")), Amount: big.NewInt(1)}
}

func init() {
	prep := func(t *testing.T, a *arena) { a.mintedOne(t) }
	registerAttacks("chain", []attack{
		// At the door: nothing changes.
		{name: "tx larger than tx.MaxSize", code: "tx_too_large", says: "too large",
			run: func(t *testing.T, a *arena) error {
				body := &tx.EnclaveRegister{IDAO: "demo", PubKey: []byte{4}, Report: make([]byte, tx.MaxSize)}
				x := a.attackerTx(t, 1<<30, body)
				return a.postRaw(t, x.Encode())
			}},
		{name: "bytes that are no tx", code: "malformed_tx", says: "malformed",
			run: func(t *testing.T, a *arena) error { return a.postRaw(t, []byte{0x01, 0xc3, 0x80, 0x80}) }},
		{name: "a body that does not decode", code: "malformed_tx", says: "malformed",
			run: func(t *testing.T, a *arena) error {
				x := &tx.Tx{ChainID: 1337, MaxFee: big.NewInt(1000), Kind: tx.KindAnchor, Body: []byte{0xc1, 0xff}}
				x.Sign(a.attacker)
				return a.postRaw(t, x.Encode())
			}},
		{name: "tx of another chain", code: "wrong_chain", says: "chain",
			run: func(t *testing.T, a *arena) error {
				x, _ := tx.New(1, 0, big.NewInt(1000), chainTransfer(a))
				x.Sign(a.attacker)
				return a.postRaw(t, x.Encode())
			}},
		{name: "max fee without the per-byte part", code: "fee_too_low", says: "max fee",
			run: func(t *testing.T, a *arena) error {
				body := &tx.EnclaveRegister{IDAO: "demo", PubKey: []byte{4}, Report: make([]byte, 20_000)}
				x := a.attackerTx(t, 200, body) // the kind's gas only
				return a.postRaw(t, x.Encode())
			}},
		{name: "a tx in a funded account's name, signed by the outsider", code: "bad_signature", says: "signature",
			run: func(t *testing.T, a *arena) error {
				victim := keys.Address(a.key("app"))
				acc, _ := a.api.Balance(context.Background(), victim)
				x, _ := tx.New(1337, acc.NextNonce, big.NewInt(1000), &tx.Transfer{To: keys.Address(a.attacker), Amount: big.NewInt(1000)})
				x.Sign(a.attacker)
				x.From = victim
				return a.postRaw(t, x.Encode())
			}},
		{name: "a wallet (version-2) tx in a funded account's name, signed by the outsider", code: "bad_signature", says: "signature",
			run: func(t *testing.T, a *arena) error {
				victim := keys.Address(a.key("app"))
				acc, _ := a.api.Balance(context.Background(), victim)
				x, _ := tx.New(1337, acc.NextNonce, big.NewInt(1000), &tx.Transfer{To: keys.Address(a.attacker), Amount: big.NewInt(1000)})
				if _, err := x.SignTyped(a.attacker); err != nil {
					t.Fatal(err)
				}
				x.From = victim
				return a.postRaw(t, x.Encode())
			}},
		{name: "an account's version-1 signature relabelled as a version-2 tx", code: "bad_signature", says: "signature",
			run: func(t *testing.T, a *arena) error {
				victim := a.key("app")
				acc, _ := a.api.Balance(context.Background(), keys.Address(victim))
				x, _ := tx.New(1337, acc.NextNonce, big.NewInt(1000), &tx.Transfer{To: keys.Address(a.attacker), Amount: big.NewInt(1000)})
				if _, err := x.Sign(victim); err != nil {
					t.Fatal(err)
				}
				sig := append([]byte(nil), x.Sig...)
				sig[64] += 27 // the form version 2 takes: only the digest differs
				y := &tx.Tx{Version: tx.Version2, ChainID: x.ChainID, Nonce: x.Nonce, MaxFee: x.MaxFee, Kind: x.Kind, From: x.From, Body: x.Body, Sig: sig}
				return a.postRaw(t, y.Encode())
			}},
		{name: "a committed anchor tx sent again", code: "nonce_replayed", says: "nonce", prepare: prep,
			run: func(t *testing.T, a *arena) error {
				got, err := a.api.ChainTx(context.Background(), minted[a].view.Anchor.Tx)
				if err != nil {
					t.Fatal(err)
				}
				return a.postRaw(t, got.Raw)
			}},
		{name: "a nonce far ahead", code: "nonce_gap", says: "nonce",
			run: func(t *testing.T, a *arena) error {
				x, _ := tx.New(1337, 1_000_000, big.NewInt(1000), chainTransfer(a))
				x.Sign(a.attacker)
				return a.postRaw(t, x.Encode())
			}},
		{name: "a transfer of more than the balance", code: "insufficient_balance", says: "balance",
			run: func(t *testing.T, a *arena) error {
				acc, _ := a.api.Balance(context.Background(), keys.Address(a.attacker))
				bal, _ := new(big.Int).SetString(acc.Balance, 10)
				return a.onChain(&tx.Transfer{To: keys.Address(a.key("app")), Amount: bal})
			}},

		// In a block: the outsider pays its fee, nothing else changes.
		{name: "anchor naming the outsider the contributor, with copied votes", code: "submission_digest", says: "not the digest",
			prepare: prep, changes: []string{"chain:state_root"},
			run: func(t *testing.T, a *arena) error {
				return a.onChain(a.copiedAnchor(func(an *tx.Anchor) { an.Signed.Contributor = keys.Address(a.attacker) }))
			}},
		{name: "anchor of the genuine submission with the outsider's signature", code: "wrong_contributor", says: "not signed by its contributor",
			prepare: prep, changes: []string{"chain:state_root"},
			run: func(t *testing.T, a *arena) error {
				return a.onChain(a.copiedAnchor(func(an *tx.Anchor) { an.Signature, _ = an.Signed.Sign(1337, a.attacker) }))
			}},
		{name: "anchor of a re-signed submission under a new id, with copied votes", code: "bad_vote_signature", says: "vote signature",
			prepare: prep, changes: []string{"chain:state_root"},
			run: func(t *testing.T, a *arena) error {
				return a.onChain(a.copiedAnchor(func(an *tx.Anchor) {
					an.Signed.Contributor = keys.Address(a.attacker)
					an.Signature, _ = an.Signed.Sign(1337, a.attacker)
					an.Submission = an.Signed.Digest(1337)
					an.ResultDigest = keccak([]byte("the outsider's result"))
				}))
			}},
		{name: "anchor of the genuine submission for another iDAO", code: "mismatch", says: "iDAO",
			prepare: prep, changes: []string{"chain:state_root"},
			run: func(t *testing.T, a *arena) error {
				return a.onChain(a.copiedAnchor(func(an *tx.Anchor) { an.IDAO = "other" }))
			}},
		{name: "the genuine anchor front-run again after it landed", code: "already_anchored", says: "already anchored",
			prepare: prep, changes: []string{"chain:state_root"},
			run: func(t *testing.T, a *arena) error { return a.onChain(a.copiedAnchor(func(*tx.Anchor) {})) }},
		{name: "anchor counting stake at a height not yet committed", code: "stake_height", says: "stake height",
			prepare: prep, changes: []string{"chain:state_root"},
			run: func(t *testing.T, a *arena) error {
				return a.onChain(a.copiedAnchor(func(an *tx.Anchor) {
					an.StakeHeight += 1000
					an.ResultDigest = keccak([]byte("another result"))
				}))
			}},
		{name: "equivocation proof made of two members' agreeing votes", code: "not_equivocal", says: "not an equivocation",
			prepare: prep, changes: []string{"chain:state_root"},
			run: func(t *testing.T, a *arena) error {
				an := minted[a].item.Anchor
				v := func(i int) tx.EquivocationVote {
					return tx.EquivocationVote{Submission: an.Submission, ResultDigest: an.ResultDigest, Sig: an.Votes[i].Sig, Batch: an.Votes[i].Batch}
				}
				return a.onChain(&tx.SlashEquivocation{IDAO: "demo", Member: an.Votes[0].Member, First: v(0), Second: v(1)})
			}},
		{name: "mint a digest nobody anchored", code: "no_anchor", says: "no anchor",
			changes: []string{"chain:state_root"},
			run: func(t *testing.T, a *arena) error {
				return a.onChain(&tx.DATMint{Digest: keccak([]byte("never certified")), IDAO: "demo"})
			}},
		{name: "release a claim's bond through bond_release", code: "unknown_bond", says: "unknown bond",
			changes: []string{"chain:state_root"},
			run: func(t *testing.T, a *arena) error {
				return a.onChain(&tx.BondRelease{ID: keccak([]byte("a claim id")), Owner: keys.Address(a.attacker)})
			}},
		{name: "join an iDAO with less than the minimum stake", code: "below_min_stake", says: "minimum",
			changes: []string{"chain:state_root"},
			run: func(t *testing.T, a *arena) error {
				return a.onChain(&tx.IDAOJoin{Name: "demo", Amount: big.NewInt(1)})
			}},
		{name: "an iDAO whose members could leave at once", code: "unstake_delay", says: "unstake delay",
			changes: []string{"chain:state_root"},
			run: func(t *testing.T, a *arena) error {
				return a.onChain(&tx.IDAOCreate{Name: fmt.Sprintf("leaky-%d", time.Now().UnixNano()%1e6),
					Policy: idao.Policy{Modes: []idao.Mode{"tee"}, UnstakeDelay: 1}})
			}},
	})
}
