//go:build js && wasm

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"syscall/js"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/vsc-labs/vsc/chain/tx"
	"github.com/vsc-labs/vsc/coordinator/client"
)

// Chain txs a wallet signs (the class page's Buy quota, the account page's
// escrow Deposit): the SDK builds the unsigned version-2 tx
// (client.UnsignedChainTx: the next nonce, a max fee covering the kind's
// fee) after the checks the CLI makes before sending, the wallet signs its
// EIP-712 typed data with eth_signTypedData_v4, and submitChainTx attaches
// the signature (tx.WithWalletSignature: it must recover to the wallet) and
// sends it. The page follows it to its receipt.

// maxUnsigned bounds the unsigned txs kept for submitChainTx.
const maxUnsigned = 16

var unsigned = map[common.Hash]*tx.Tx{}

// chainTxOptions is chainTx's argument.
type chainTxOptions struct {
	API      string         `json:"api"`
	Chain    string         `json:"chain"`
	Kind     string         `json:"kind"` // dat_buy or escrow_deposit
	From     string         `json:"from"`
	Class    common.Hash    `json:"class"`    // dat_buy
	Units    string         `json:"units"`    // dat_buy, decimal
	Provider common.Address `json:"provider"` // escrow_deposit
	Amount   string         `json:"amount"`   // escrow_deposit, base units
}

// chainTx(optionsJSON) → Promise<{digest, typed_data, kind, from, nonce,
// max_fee, chain_id}>: the unsigned tx for the wallet to sign.
func chainTx(_ js.Value, args []js.Value) any {
	return promise(func(ctx context.Context) (any, error) {
		if len(args) != 1 {
			return nil, errors.New("chainTx takes the options JSON")
		}
		var o chainTxOptions
		if err := json.Unmarshal([]byte(args[0].String()), &o); err != nil {
			return nil, fmt.Errorf("chain tx options: %w", err)
		}
		if !common.IsHexAddress(o.From) {
			return nil, fmt.Errorf("the wallet account %q is not a 0x address: connect a wallet first", o.From)
		}
		from := common.HexToAddress(o.From)
		c := client.New(o.API)
		c.Chain = o.Chain
		var body tx.Body
		switch o.Kind {
		case "dat_buy":
			units, err := strconv.ParseUint(o.Units, 10, 64)
			if err != nil || units == 0 {
				return nil, fmt.Errorf("units %q is not a whole number from 1 to %d", o.Units, uint64(math.MaxUint64))
			}
			if err := c.CheckBuy(ctx, from, o.Class, units); err != nil {
				return nil, err
			}
			body = &tx.DATBuy{Class: o.Class, Units: units}
		case "escrow_deposit":
			amount, ok := new(big.Int).SetString(o.Amount, 10)
			if !ok || amount.Sign() <= 0 || amount.BitLen() > 256 {
				return nil, fmt.Errorf("the amount %q is not a positive integer of base units (VSC)", o.Amount)
			}
			if err := c.CheckDeposit(ctx, from, o.Provider, amount); err != nil {
				return nil, err
			}
			body = &tx.EscrowDeposit{Provider: o.Provider, Amount: amount}
		default:
			return nil, fmt.Errorf("the page signs dat_buy and escrow_deposit txs, not %q", o.Kind)
		}
		t, err := c.UnsignedChainTx(ctx, from, body)
		if err != nil {
			return nil, err
		}
		td, err := t.TypedData()
		if err != nil {
			return nil, err
		}
		raw, err := json.Marshal(td)
		if err != nil {
			return nil, err
		}
		t.Version = tx.Version2
		d := t.SigningHash()
		mu.Lock()
		if len(unsigned) >= maxUnsigned {
			clear(unsigned)
		}
		unsigned[d] = t
		mu.Unlock()
		return map[string]any{"digest": d.Hex(), "typed_data": string(raw), "kind": t.Kind.String(), "from": t.From.Hex(),
			"nonce": t.Nonce, "max_fee": t.MaxFee.String(), "chain_id": t.ChainID}, nil
	})
}

// submitChainTx(api, digest, signature) → Promise<{hash}>: attaches the
// wallet's signature to the tx chainTx built (it must recover to the
// wallet) and submits it (POST /v1/chain/txs); a refusal rejects with the
// API's sentence.
func submitChainTx(_ js.Value, args []js.Value) any {
	return promise(func(ctx context.Context) (any, error) {
		if len(args) != 3 {
			return nil, errors.New("submitChainTx takes (api, digest, signature)")
		}
		mu.Lock()
		t := unsigned[common.HexToHash(args[1].String())]
		mu.Unlock()
		if t == nil {
			return nil, errors.New("no unsigned tx with that digest in this page: build it again")
		}
		sig, err := hexutil.Decode(args[2].String())
		if err != nil {
			return nil, fmt.Errorf("the wallet's signature is not 0x hex: %w", err)
		}
		signed, h, err := client.New(args[0].String()).SubmitWalletTx(ctx, t, sig)
		if err != nil {
			return nil, err
		}
		mu.Lock()
		delete(unsigned, common.HexToHash(args[1].String()))
		mu.Unlock()
		return map[string]any{"hash": h.Hex(), "raw": hexutil.Encode(signed.Encode())}, nil
	})
}
