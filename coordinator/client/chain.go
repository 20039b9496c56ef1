package client

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"strconv"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/chain"
	"github.com/vsc-labs/vsc/chain/api"
	"github.com/vsc-labs/vsc/chain/proof"
	"github.com/vsc-labs/vsc/chain/tx"
	"github.com/vsc-labs/vsc/internal/codes"
	"github.com/vsc-labs/vsc/internal/page"
)

// Chain reads and writes, under /v1/chain/ (see chain/node/openapi.json).

// ChainInfo returns the chain id, sequencer, gas price and head height.
func (c *Client) ChainInfo(ctx context.Context) (*api.Info, error) {
	return get[api.Info](ctx, c, "/v1/chain/info")
}

// ChainHead returns the last block's header.
func (c *Client) ChainHead(ctx context.Context) (*api.Header, error) {
	return get[api.Header](ctx, c, "/v1/chain/head")
}

// ChainBlock returns a block by height ("12") or header hash ("0x…").
func (c *Client) ChainBlock(ctx context.Context, id string) (*api.Block, error) {
	return get[api.Block](ctx, c, "/v1/chain/blocks/"+url.PathEscape(id))
}

// ChainTx returns a tx (pending or committed, with its receipt).
func (c *Client) ChainTx(ctx context.Context, hash common.Hash) (*api.Tx, error) {
	return get[api.Tx](ctx, c, "/v1/chain/txs/"+hash.Hex())
}

// ChainTxProof returns the inclusion proof of a committed tx.
func (c *Client) ChainTxProof(ctx context.Context, hash common.Hash) (*proof.Proof, error) {
	return get[proof.Proof](ctx, c, "/v1/chain/txs/"+hash.Hex()+"/proof")
}

// Balance returns an account's balance, stake and nonce.
func (c *Client) Balance(ctx context.Context, addr common.Address) (*api.Account, error) {
	return get[api.Account](ctx, c, "/v1/chain/accounts/"+addr.Hex())
}

// BalanceProof returns the state proof of an account at the head.
func (c *Client) BalanceProof(ctx context.Context, addr common.Address) (*proof.Proof, error) {
	return get[proof.Proof](ctx, c, "/v1/chain/accounts/"+addr.Hex()+"/proof")
}

// ChainIDAOs lists every iDAO on chain, by name (following every page).
func (c *Client) ChainIDAOs(ctx context.Context) (*api.IDAOList, error) {
	all, err := listAll(ctx, c, "/v1/chain/idaos",
		func(l *api.IDAOList) []*api.IDAO { return l.IDAOs }, func(l *api.IDAOList) string { return l.Next })
	if err != nil {
		return nil, err
	}
	return &api.IDAOList{IDAOs: nonNil(all)}, nil
}

// ChainIDAO returns one iDAO as the chain holds it.
func (c *Client) ChainIDAO(ctx context.Context, name string) (*api.IDAO, error) {
	return get[api.IDAO](ctx, c, "/v1/chain/idaos/"+url.PathEscape(name))
}

// DATClass returns a DAT class with its tokens (`vsc dat show`).
func (c *Client) DATClass(ctx context.Context, id common.Hash) (*api.Class, error) {
	return get[api.Class](ctx, c, "/v1/chain/dat/classes/"+id.Hex())
}

// DATClassProof returns the state proof of a DAT class at the head.
func (c *Client) DATClassProof(ctx context.Context, id common.Hash) (*proof.Proof, error) {
	return get[proof.Proof](ctx, c, "/v1/chain/dat/classes/"+id.Hex()+"/proof")
}

// DATClasses lists every DAT class, oldest first (following every page).
func (c *Client) DATClasses(ctx context.Context) (*api.ClassList, error) {
	all, err := listAll(ctx, c, "/v1/chain/dat/classes",
		func(l *api.ClassList) []*api.Class { return l.Classes }, func(l *api.ClassList) string { return l.Next })
	if err != nil {
		return nil, err
	}
	return &api.ClassList{Classes: nonNil(all)}, nil
}

// DATTokens lists tokens, optionally of one owner and/or class (zero =
// any), by id (following every page).
func (c *Client) DATTokens(ctx context.Context, owner common.Address, class common.Hash) (*api.TokenList, error) {
	q := url.Values{}
	if owner != (common.Address{}) {
		q.Set("owner", owner.Hex())
	}
	if class != (common.Hash{}) {
		q.Set("class", class.Hex())
	}
	path := "/v1/chain/dat/tokens"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	all, err := listAll(ctx, c, path, func(l *api.TokenList) []*api.Token { return l.Tokens }, func(l *api.TokenList) string { return l.Next })
	if err != nil {
		return nil, err
	}
	return &api.TokenList{Tokens: nonNil(all)}, nil
}

// nonNil makes an empty list encode as [] (the CLI's JSON shows lists).
func nonNil[T any](xs []T) []T {
	if xs == nil {
		return []T{}
	}
	return xs
}

// DATToken returns one token with its claimable revenue.
func (c *Client) DATToken(ctx context.Context, id common.Hash) (*api.Token, error) {
	return get[api.Token](ctx, c, "/v1/chain/dat/tokens/"+id.Hex())
}

// DATTokenProof returns the state proof of a token at the head.
func (c *Client) DATTokenProof(ctx context.Context, id common.Hash) (*proof.Proof, error) {
	return get[proof.Proof](ctx, c, "/v1/chain/dat/tokens/"+id.Hex()+"/proof")
}

// RedeemReceipt returns the sequencer-signed receipt of a dat_redeem tx.
func (c *Client) RedeemReceipt(ctx context.Context, txHash common.Hash) (*api.RedeemReceipt, error) {
	return get[api.RedeemReceipt](ctx, c, "/v1/chain/dat/redeems/"+txHash.Hex())
}

// ChainAnchor returns the anchor of a result digest.
func (c *Client) ChainAnchor(ctx context.Context, digest common.Hash) (*api.Anchor, error) {
	return get[api.Anchor](ctx, c, "/v1/chain/anchors/"+digest.Hex())
}

// SubmitChainTx sends a signed tx; the answer is its hash once the mempool
// accepted it (errors carry codes such as nonce_gap or bad_signature).
func (c *Client) SubmitChainTx(ctx context.Context, t *tx.Tx) (common.Hash, error) {
	var out api.SubmitResponse
	err := c.postJSON(ctx, "/v1/chain/txs", &api.SubmitRequest{Raw: t.Encode()}, &out)
	return out.Hash, err
}

// WaitChainTx polls until the tx is in a block (or ctx ends).
func (c *Client) WaitChainTx(ctx context.Context, hash common.Hash) (*api.Tx, error) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		got, err := c.ChainTx(ctx, hash)
		if err == nil && got.Status == "committed" {
			return got, nil
		}
		if err != nil && !IsCode(err, codes.NotFound) {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for tx %s: %w", hash, ctx.Err())
		case <-t.C:
		}
	}
}

// waitResubmitting waits for t (hash h) to be in a block. A tx the chain
// does not know after resubmitEvery (the sequencer restarted and lost its
// mempool) is submitted again: the same signed tx, so it lands at most
// once; one whose nonce the chain has used for another tx is an error.
func (c *Client) waitResubmitting(ctx context.Context, t *tx.Tx, h common.Hash) (*api.Tx, error) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	unknownSince := time.Now()
	for {
		got, err := c.ChainTx(ctx, h)
		switch {
		case err == nil && got.Status == "committed":
			return got, nil
		case err == nil:
			unknownSince = time.Now() // pending
		case !IsCode(err, codes.NotFound):
			return nil, err
		case time.Since(unknownSince) >= resubmitEvery:
			unknownSince = time.Now()
			if _, err := c.SubmitChainTx(ctx, t); err != nil && !IsCode(err, codes.KnownTx) && !IsCode(err, codes.NoncePending) {
				if IsCode(err, codes.NonceReplayed) {
					if got, gerr := c.ChainTx(ctx, h); gerr == nil && got.Status == "committed" {
						return got, nil
					}
					return nil, fmt.Errorf("tx %s was lost and its nonce used by another tx: %w", h, err)
				}
				return nil, fmt.Errorf("resubmit tx %s: %w", h, err)
			}
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for tx %s: %w", h, ctx.Err())
		case <-tick.C:
		}
	}
}

// resubmitEvery is how long a sent tx may be unknown to the chain before
// it is submitted again.
const resubmitEvery = 3 * time.Second

// SendChainTx builds a tx with key's next nonce and a max fee covering the
// kind's fee, signs, submits and waits for its receipt. A failed receipt
// is returned with an error carrying the receipt's failure (a
// *codes.Error: its code and what went wrong).
func (c *Client) SendChainTx(ctx context.Context, key *ecdsa.PrivateKey, body tx.Body) (*api.Tx, error) {
	t, err := c.UnsignedChainTx(ctx, crypto.PubkeyToAddress(key.PublicKey), body)
	if err != nil {
		return nil, err
	}
	if _, err := t.Sign(key); err != nil {
		return nil, err
	}
	return c.SendSignedChainTx(ctx, t)
}

// UnsignedChainTx builds the tx from would send for body: the chain's id,
// from's next nonce (its pending txs counted) and a max fee covering the
// kind's fee at the chain's gas price. A key signs it with Sign (version
// 1); a wallet signs its TypedData with eth_signTypedData_v4, and
// WithWalletSignature makes it the version-2 tx SendSignedChainTx sends.
func (c *Client) UnsignedChainTx(ctx context.Context, from common.Address, body tx.Body) (*tx.Tx, error) {
	info, err := c.ChainInfo(ctx)
	if err != nil {
		return nil, err
	}
	acc, err := c.Balance(ctx, from)
	if err != nil {
		return nil, err
	}
	price, ok := new(big.Int).SetString(info.GasPrice, 10)
	if !ok {
		price = big.NewInt(1)
	}
	gas, err := tx.GasOf(body)
	if err != nil {
		return nil, err
	}
	maxFee := new(big.Int).Mul(price, new(big.Int).SetUint64(gas))
	t, err := tx.New(info.ChainID, acc.NextNonce, maxFee, body)
	if err != nil {
		return nil, err
	}
	t.From = from
	return t, nil
}

// SubmitWalletTx attaches a wallet's signature of t's typed data (V in
// {0,1} or {27,28}), checks that it recovers to t.From, and submits the
// version-2 tx; the answer is the signed tx and its hash. Follow it with
// WaitChainTx (or SendSignedChainTx, which does both).
func (c *Client) SubmitWalletTx(ctx context.Context, t *tx.Tx, sig []byte) (*tx.Tx, common.Hash, error) {
	signed, err := t.WithWalletSignature(sig)
	if err != nil {
		return nil, common.Hash{}, fmt.Errorf("the wallet's signature of the %s tx: %w", t.Kind, err)
	}
	h, err := c.SubmitChainTx(ctx, signed)
	return signed, h, err
}

// SendSignedChainTx submits a signed tx (either version), waits for its
// receipt, resubmitting it if the chain lost it, and returns it; a failed
// receipt is returned with an error carrying its failure.
func (c *Client) SendSignedChainTx(ctx context.Context, t *tx.Tx) (*api.Tx, error) {
	h, err := c.SubmitChainTx(ctx, t)
	if err != nil {
		return nil, err
	}
	got, err := c.waitResubmitting(ctx, t, h)
	if err != nil {
		return nil, err
	}
	if got.Receipt != nil && got.Receipt.Status != "success" {
		return got, fmt.Errorf("%s tx %s failed on chain: %w", t.Kind, h, got.Receipt.Err())
	}
	return got, nil
}

// ClassRedeems returns one page of a class's successful dat_redeem txs,
// newest first (cursor "": the newest; limit 0: the API's default).
func (c *Client) ClassRedeems(ctx context.Context, class common.Hash, cursor string, limit int) (*api.ClassRedeemList, error) {
	path := "/v1/chain/dat/classes/" + class.Hex() + "/redeems"
	if q := page.Query(limit, cursor); q != "" {
		path += "?" + q
	}
	return get[api.ClassRedeemList](ctx, c, path)
}

// event returns the first event of type typ in a committed tx's receipt.
func event(t *api.Tx, typ string) *chain.Event {
	if t == nil || t.Receipt == nil {
		return nil
	}
	for i := range t.Receipt.Events {
		if t.Receipt.Events[i].Type == typ {
			return &t.Receipt.Events[i]
		}
	}
	return nil
}

// DATBuyResult is `vsc dat buy --json`.
type DATBuyResult struct {
	Class common.Hash `json:"class"`
	Token common.Hash `json:"token"`
	Units uint64      `json:"units"`
	Paid  string      `json:"paid"`
	Tx    common.Hash `json:"tx"`
}

// BuyDAT pays units × price into class and returns the new token.
func (c *Client) BuyDAT(ctx context.Context, key *ecdsa.PrivateKey, class common.Hash, units uint64) (*DATBuyResult, error) {
	if err := c.CheckBuy(ctx, crypto.PubkeyToAddress(key.PublicKey), class, units); err != nil {
		return nil, err
	}
	got, err := c.SendChainTx(ctx, key, &tx.DATBuy{Class: class, Units: units})
	if err != nil {
		return nil, err
	}
	return BuyResult(got)
}

// CheckBuy refuses, before anything is signed or sent (no fee spent), a
// buy the chain would refuse for want of funds or of a class: the class
// exists, units is positive, and from's balance covers units × price.
// The chain checks again.
func (c *Client) CheckBuy(ctx context.Context, from common.Address, class common.Hash, units uint64) error {
	if units == 0 {
		return errors.New("units must be a positive number of DAT units to buy")
	}
	cl, err := c.DATClass(ctx, class)
	if err != nil {
		return err
	}
	acc, err := c.Balance(ctx, from)
	if err != nil {
		return err
	}
	price, ok1 := new(big.Int).SetString(cl.Price, 10)
	bal, ok2 := new(big.Int).SetString(acc.Balance, 10)
	if ok1 && ok2 {
		cost := new(big.Int).Mul(price, new(big.Int).SetUint64(units))
		if bal.Cmp(cost) < 0 {
			return fmt.Errorf("%d units of %s cost %s, the balance of %s is %s: fund the account first", units, class.Hex(), cost, acc.Address.Hex(), bal)
		}
	}
	return nil
}

// BuyResult reads a committed dat_buy's result from its receipt.
func BuyResult(got *api.Tx) (*DATBuyResult, error) {
	ev := event(got, "dat_bought")
	if ev == nil {
		return nil, fmt.Errorf("buy tx %s has no dat_bought event", got.Hash)
	}
	units, _ := strconv.ParseUint(ev.Get("units"), 10, 64)
	return &DATBuyResult{Class: common.HexToHash(ev.Get("class")), Token: common.HexToHash(ev.Get("token")), Units: units, Paid: ev.Get("paid"), Tx: got.Hash}, nil
}

// DATRedeemResult is `vsc dat redeem --json`.
type DATRedeemResult struct {
	Token   common.Hash        `json:"token"`
	Units   uint64             `json:"units"`
	Left    uint64             `json:"left"`
	Receipt *api.RedeemReceipt `json:"receipt"`
}

// RedeemDAT uses units of a token and returns the sequencer-signed receipt
// (checked against the chain's sequencer before it is returned).
func (c *Client) RedeemDAT(ctx context.Context, key *ecdsa.PrivateKey, token common.Hash, units uint64) (*DATRedeemResult, error) {
	// Refuse what the chain would refuse before sending, so a mistake costs
	// no fee and no nonce (the chain still checks: this is only a courtesy).
	tk, err := c.DATToken(ctx, token)
	if err != nil {
		return nil, err
	}
	owner := crypto.PubkeyToAddress(key.PublicKey)
	switch {
	case tk.Owner != owner:
		return nil, fmt.Errorf("token %s belongs to %s, not to %s: only its owner can redeem it", token.Hex(), tk.Owner.Hex(), owner.Hex())
	case units > tk.Value:
		return nil, fmt.Errorf("token %s holds %d units, cannot redeem %d: buy more with `vsc dat buy %s --units N`", token.Hex(), tk.Value, units, tk.Class.Hex())
	case tk.Expires != 0 && uint64(time.Now().Unix()) >= tk.Expires:
		return nil, fmt.Errorf("token %s expired at %s: buy a fresh one", token.Hex(), time.Unix(int64(tk.Expires), 0).UTC().Format(time.RFC3339))
	}
	got, err := c.SendChainTx(ctx, key, &tx.DATRedeem{Token: token, Units: units})
	if err != nil {
		return nil, err
	}
	rr, err := c.RedeemReceipt(ctx, got.Hash)
	if err != nil {
		return nil, err
	}
	info, err := c.ChainInfo(ctx)
	if err != nil {
		return nil, err
	}
	if rr.Sequencer != info.Sequencer {
		return nil, fmt.Errorf("redeem receipt names sequencer %s, chain's is %s", rr.Sequencer, info.Sequencer)
	}
	if err := rr.Verify(); err != nil {
		return nil, fmt.Errorf("redeem receipt: %w", err)
	}
	return &DATRedeemResult{Token: token, Units: units, Left: rr.Left, Receipt: rr}, nil
}

// DATTransferResult is `vsc dat transfer --json`.
type DATTransferResult struct {
	Token    common.Hash    `json:"token"`
	To       common.Address `json:"to"`
	Value    uint64         `json:"value,omitempty"`
	NewToken *common.Hash   `json:"new_token,omitempty"`
	Tx       common.Hash    `json:"tx"`
}

// TransferDAT gives a whole token to to (value 0), or splits value units
// off into a new token for to.
func (c *Client) TransferDAT(ctx context.Context, key *ecdsa.PrivateKey, token common.Hash, to common.Address, value uint64) (*DATTransferResult, error) {
	tk, err := c.DATToken(ctx, token)
	if err != nil {
		return nil, err
	}
	got, err := c.SendChainTx(ctx, key, &tx.DATTransfer{Class: tk.Class, Token: token, To: to, Value: value})
	if err != nil {
		return nil, err
	}
	res := &DATTransferResult{Token: token, To: to, Value: value, Tx: got.Hash}
	if ev := event(got, "dat_split"); ev != nil {
		nt := common.HexToHash(ev.Get("new_token"))
		res.NewToken = &nt
	}
	return res, nil
}

// DATClaimResult is `vsc dat claim --json`.
type DATClaimResult struct {
	Token   common.Hash `json:"token"`
	Claimed string      `json:"claimed"`
	Tx      common.Hash `json:"tx"`
}

// ClaimDAT pays a token's claimable revenue to its owner.
func (c *Client) ClaimDAT(ctx context.Context, key *ecdsa.PrivateKey, token common.Hash) (*DATClaimResult, error) {
	tk, err := c.DATToken(ctx, token)
	if err != nil {
		return nil, err
	}
	got, err := c.SendChainTx(ctx, key, &tx.DATClaim{Class: tk.Class, Token: token})
	if err != nil {
		return nil, err
	}
	ev := event(got, "dat_claimed")
	if ev == nil {
		return nil, fmt.Errorf("claim tx %s has no dat_claimed event", got.Hash)
	}
	return &DATClaimResult{Token: token, Claimed: ev.Get("claimed"), Tx: got.Hash}, nil
}

// DATQueryPolicyResult is what SetQueryPolicy set.
type DATQueryPolicyResult struct {
	Class   common.Hash `json:"class"`
	Allowed []string    `json:"allowed"`
	Columns []string    `json:"columns"`
	Tx      common.Hash `json:"tx"`
}

// SetQueryPolicy restricts the data-service queries over class to the
// aggregates allowed and the columns given (empty: all); only the class's
// contributor may.
func (c *Client) SetQueryPolicy(ctx context.Context, key *ecdsa.PrivateKey, class common.Hash, allowed, columns []string) (*DATQueryPolicyResult, error) {
	got, err := c.SendChainTx(ctx, key, &tx.DATQueryPolicy{Class: class, Allowed: allowed, Columns: columns})
	if err != nil {
		return nil, err
	}
	if event(got, "dat_query_policy") == nil {
		return nil, fmt.Errorf("query policy tx %s has no dat_query_policy event", got.Hash)
	}
	return &DATQueryPolicyResult{Class: class, Allowed: nonNil(allowed), Columns: nonNil(columns), Tx: got.Hash}, nil
}
