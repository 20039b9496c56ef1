// Package api holds the JSON shapes of the chain's read API (served by
// chain/node under /v1/chain/, decoded by the SDK in coordinator/client) and
// their conversions from the chain's pure types. Amounts are decimal
// strings of base units. It imports no I/O, so clients can use it.
package api

import (
	"encoding/json"
	"fmt"
	"math/big"
	"strconv"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/chain"
	"github.com/vsc-labs/vsc/chain/state"
	"github.com/vsc-labs/vsc/chain/tx"
	"github.com/vsc-labs/vsc/dat"
	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/internal/codes"
	"github.com/vsc-labs/vsc/internal/eip712"
)

func amt(x *big.Int) string {
	if x == nil {
		return "0"
	}
	return x.String()
}

// Error is the body of every non-2xx response, the wire form of a
// codes.Error (what the chain's API writes): the code's stable name and
// number, and a sentence that says what was wrong and what to do.
type Error struct {
	Code    string `json:"code"`
	Number  uint16 `json:"number,omitempty"`
	Message string `json:"error"`
}

// Info describes the chain.
type Info struct {
	ChainID   uint64         `json:"chain_id"`
	Sequencer common.Address `json:"sequencer"`
	GasPrice  string         `json:"gas_price"`
	Lanes     int            `json:"lanes"`
	Head      uint64         `json:"head"`
	Mempool   int            `json:"mempool"`
}

// Header is a block header with its hash; a follower adds how it stands
// against its sequencer.
type Header struct {
	Hash common.Hash `json:"hash"`
	chain.Header
	Follow *FollowStatus `json:"follow,omitempty"`
}

// FollowStatus is a verifying follower's position: the sequencer it
// follows, the sequencer's head as last seen, how many blocks this node is
// behind it, and, once it halted on a block that does not check, why.
type FollowStatus struct {
	Sequencer       string `json:"sequencer"`
	SequencerHeight uint64 `json:"sequencer_height"`
	Lag             uint64 `json:"lag"`
	Halted          string `json:"halted,omitempty"`
}

// NewHeader wraps h.
func NewHeader(h *chain.Header) *Header { return &Header{Hash: h.Hash(), Header: *h} }

// TxSummary is a tx in a block listing.
type TxSummary struct {
	Hash   common.Hash    `json:"hash"`
	Kind   string         `json:"kind"`
	Sender common.Address `json:"sender"`
	Nonce  uint64         `json:"nonce"`
	Status uint8          `json:"status"`
}

// Block is a block with its tx summaries.
type Block struct {
	Header *Header      `json:"header"`
	Txs    []*TxSummary `json:"txs"`
}

// NewBlock builds a Block view.
func NewBlock(b *chain.Block, rs []*chain.Receipt) *Block {
	out := &Block{Header: NewHeader(b.Header), Txs: make([]*TxSummary, len(b.Txs))}
	for i, t := range b.Txs {
		// From is the declared sender; a tx whose signature does not
		// recover to it has a failed receipt.
		ts := &TxSummary{Hash: t.Hash(), Kind: t.Kind.String(), Sender: t.From, Nonce: t.Nonce}
		if i < len(rs) {
			ts.Status = rs[i].Status
		}
		out.Txs[i] = ts
	}
	return out
}

// Receipt is a receipt as the API shows it: the fee as a decimal string,
// the kind by name, and a failure by its code's name and number with what
// went wrong in words (error: the chain's words for it, or the code's
// sentence).
type Receipt struct {
	TxHash  common.Hash    `json:"tx_hash"`
	Index   uint32         `json:"index"`
	Kind    string         `json:"kind"`
	Sender  common.Address `json:"sender"`
	Status  string         `json:"status"` // "success" | "failed"
	GasUsed uint64         `json:"gas_used"`
	Fee     string         `json:"fee"`
	Code    string         `json:"code,omitempty"`
	Number  uint16         `json:"number,omitempty"`
	Error   string         `json:"error,omitempty"`
	Events  []chain.Event  `json:"events"`
}

// NewReceipt builds a Receipt view. An event that names a failure code (a
// skipped item) or carries words gets "reason" (the words, or the code's
// sentence) and, with a code, "reason_code" (its name).
func NewReceipt(r *chain.Receipt) *Receipt {
	st := "failed"
	if r.Status == chain.StatusSuccess {
		st = "success"
	}
	ev := make([]chain.Event, len(r.Events))
	for i, e := range r.Events {
		ev[i] = viewEvent(e)
	}
	out := &Receipt{TxHash: r.TxHash, Index: r.Index, Kind: r.Kind.String(), Sender: r.Sender, Status: st,
		GasUsed: r.GasUsed, Fee: amt(r.Fee), Error: r.Message(), Events: ev}
	if r.Status != chain.StatusSuccess {
		out.Code, out.Number = r.Code.Name(), r.Code.Number()
	}
	return out
}

// Err is a failed receipt's failure as an error carrying its code (nil on
// success): what clients return for a tx that failed on chain.
func (r *Receipt) Err() error {
	if r.Status == "success" {
		return nil
	}
	c, ok := codes.ByName(r.Code)
	if !ok {
		c = codes.Code(r.Number)
	}
	return &codes.Error{Code: c, Message: r.Error}
}

func viewEvent(e chain.Event) chain.Event {
	c := e.Code()
	if c == codes.OK && e.Detail == "" {
		return e
	}
	why := e.Detail
	if why == "" {
		why = c.Sentence()
	}
	attrs := append(append([]chain.Attr(nil), e.Attrs...), chain.Attr{Key: "reason", Value: why})
	if c != codes.OK {
		attrs = append(attrs, chain.Attr{Key: "reason_code", Value: c.Name()})
	}
	return chain.Event{Type: e.Type, Attrs: attrs}
}

// Tx is a tx, decoded, with its receipt once committed.
type Tx struct {
	Hash   common.Hash `json:"hash"`
	Status string      `json:"status"` // "pending" | "committed"
	// Version is the encoding version: 1 (signed by a key over the
	// encoding) or 2 (signed by a wallet over EIP-712 typed data).
	Version   uint8           `json:"version"`
	Sender    common.Address  `json:"sender"`
	Nonce     uint64          `json:"nonce"`
	Kind      string          `json:"kind"`
	MaxFee    string          `json:"max_fee"`
	Body      json.RawMessage `json:"body"`
	Raw       hexutil.Bytes   `json:"raw"`
	Block     *uint64         `json:"block,omitempty"`
	BlockHash *common.Hash    `json:"block_hash,omitempty"`
	Index     *uint32         `json:"index,omitempty"`
	Receipt   *Receipt        `json:"receipt,omitempty"`
}

// NewTx builds a Tx view (receipt may be nil for a pending tx).
func NewTx(t *tx.Tx) *Tx {
	out := &Tx{Hash: t.Hash(), Status: "pending", Version: t.Encode()[0], Sender: t.From, Nonce: t.Nonce, Kind: t.Kind.String(),
		MaxFee: amt(t.MaxFee), Raw: t.Encode(), Body: json.RawMessage("null")}
	if b, err := t.DecodeBody(); err == nil {
		if j, err := json.Marshal(b); err == nil {
			out.Body = j
		}
	}
	return out
}

// SubmitRequest is the body of POST /v1/chain/txs.
type SubmitRequest struct {
	Raw hexutil.Bytes `json:"raw"`
}

// SubmitResponse answers it.
type SubmitResponse struct {
	Hash common.Hash `json:"hash"`
}

// Account is `vsc balance --json`.
type Account struct {
	Address   common.Address `json:"address"`
	Balance   string         `json:"balance"`
	Stake     string         `json:"stake"`
	Bonded    string         `json:"bonded"`
	Nonce     uint64         `json:"nonce"`
	NextNonce uint64         `json:"next_nonce"`
}

// NewAccount builds an Account view.
func NewAccount(a common.Address, acc *state.Account, next uint64) *Account {
	return &Account{Address: a, Balance: amt(acc.Balance), Stake: amt(acc.Staked), Bonded: amt(acc.Bonded),
		Nonce: acc.Nonce, NextNonce: next}
}

// Member is an iDAO member.
type Member struct {
	Address   common.Address `json:"address"`
	Stake     string         `json:"stake"`
	Pending   string         `json:"pending"`
	ReleaseAt uint64         `json:"release_at"`
}

// Policy is an iDAO policy.
type Policy struct {
	Modes        []idao.Mode     `json:"modes"`
	Price        string          `json:"price"`
	TEEPolicy    json.RawMessage `json:"tee_policy,omitempty"`
	VKHash       common.Hash     `json:"vk_hash"`
	UnstakeDelay uint64          `json:"unstake_delay"`
	MinGroupSize uint64          `json:"min_group_size,omitempty"`
	ZKShapes     []idao.ZKShape  `json:"zk_shapes,omitempty"`
}

// IDAO is an iDAO (`vsc idao show`); Policy is the default mode for lists.
type IDAO struct {
	Name       string         `json:"name"`
	Owner      common.Address `json:"owner"`
	Policy     idao.Mode      `json:"policy"`
	PolicyFull Policy         `json:"policy_detail"`
	Members    []Member       `json:"members"`
	Stake      string         `json:"stake"`
	Created    uint64         `json:"created"`
}

// IDAOList is a page of iDAOs, by name.
type IDAOList struct {
	IDAOs []*IDAO `json:"idaos"`
	Next  string  `json:"next,omitempty"` // the following page's cursor; empty on the last
}

// NewIDAO builds an IDAO view.
func NewIDAO(d *idao.IDAO) *IDAO {
	out := &IDAO{Name: d.Name, Owner: d.Owner, Stake: amt(d.TotalStake()), Created: d.Created, Members: []Member{},
		PolicyFull: Policy{Modes: d.Policy.Modes, Price: amt(d.Policy.Price), VKHash: d.Policy.VKHash, UnstakeDelay: d.Policy.UnstakeDelay,
			MinGroupSize: d.Policy.MinGroupSize, ZKShapes: d.Policy.ZKShapes}}
	if len(d.Policy.TEEPolicy) > 0 && json.Valid(d.Policy.TEEPolicy) {
		out.PolicyFull.TEEPolicy = d.Policy.TEEPolicy
	}
	if len(d.Policy.Modes) > 0 {
		out.Policy = d.Policy.Modes[0]
	}
	for _, m := range d.Members {
		out.Members = append(out.Members, Member{Address: m.Addr, Stake: amt(m.Stake), Pending: amt(m.Pending), ReleaseAt: m.ReleaseAt})
	}
	return out
}

// Token is a DAT token.
type Token struct {
	ID        common.Hash    `json:"id"`
	Class     common.Hash    `json:"class"`
	Owner     common.Address `json:"owner"`
	Value     uint64         `json:"value"`
	Shares    uint64         `json:"shares"`
	Expires   uint64         `json:"expires"`
	Claimable string         `json:"claimable"`
}

// NewToken builds a Token view.
func NewToken(c *dat.Class, t *dat.Token) *Token {
	cl := "0"
	if c != nil {
		cl = dat.Claimable(c, t).String()
	}
	return &Token{ID: t.ID, Class: t.Class, Owner: t.Owner, Value: t.Value, Shares: t.Shares, Expires: t.Expires, Claimable: cl}
}

// TokenList is a page of tokens, by id (`vsc dat list --json` follows
// every page).
type TokenList struct {
	Tokens []*Token `json:"tokens"`
	Next   string   `json:"next,omitempty"` // the following page's cursor; empty on the last
}

// Revenue is a class's revenue totals.
type Revenue struct {
	Pool    string `json:"pool"`
	Claimed string `json:"claimed"`
}

// Class is `vsc dat show CLASS --json`.
type Class struct {
	ID            common.Hash    `json:"id"`
	Kind          string         `json:"kind"`
	URI           string         `json:"uri"`
	IDAO          string         `json:"idao"`
	IntegrityHash common.Hash    `json:"integrity_hash"`
	Provenance    dat.Provenance `json:"provenance"`
	Price         string         `json:"price"`
	TotalShares   uint64         `json:"total_shares"`
	Validity      uint64         `json:"validity"`
	AccPerShare   string         `json:"acc_revenue_per_share"`
	Tokens        []*Token       `json:"tokens"`
	Revenue       Revenue        `json:"revenue"`
	CreatedAt     uint64         `json:"created_at"`
	// QueryPolicy is the contributor's restriction of data-service queries
	// (empty lists: everything allowed).
	QueryPolicy QueryPolicy `json:"query_policy"`
}

// QueryPolicy is a class's query policy.
type QueryPolicy struct {
	Allowed []string `json:"allowed"`
	Columns []string `json:"columns"`
}

// ClassList is a page of classes, oldest first.
type ClassList struct {
	Classes []*Class `json:"classes"`
	Next    string   `json:"next,omitempty"` // the following page's cursor; empty on the last
}

// NewClass builds a Class view with its tokens.
func NewClass(c *dat.Class, tokens []*dat.Token) *Class {
	out := &Class{ID: c.ID, Kind: c.Kind, URI: c.URI, IDAO: c.IDAO, IntegrityHash: c.IntegrityHash, Provenance: c.Provenance,
		Price: amt(c.Price), TotalShares: c.TotalShares, Validity: c.Validity, AccPerShare: amt(c.Acc),
		Tokens: []*Token{}, Revenue: Revenue{Pool: amt(c.Pool), Claimed: amt(c.Claimed)}, CreatedAt: c.CreatedAt,
		QueryPolicy: QueryPolicy{Allowed: append([]string{}, c.QueryAllowed...), Columns: append([]string{}, c.QueryColumns...)}}
	for _, t := range tokens {
		out.Tokens = append(out.Tokens, NewToken(c, t))
	}
	return out
}

// Anchor is an anchored digest.
type Anchor struct {
	Digest      common.Hash    `json:"digest"`
	IDAO        string         `json:"idao"`
	Submission  common.Hash    `json:"submission"`
	Contributor common.Address `json:"contributor"`
	DataHash    common.Hash    `json:"data_hash"`
	Commitment  common.Hash    `json:"commitment"`
	QCHash      common.Hash    `json:"qc_hash"`
	Stake       string         `json:"stake"`
	StakeHeight uint64         `json:"stake_height"` // the height whose stake the QC counted
	Tx          common.Hash    `json:"tx"`
	Block       uint64         `json:"block"`
	Minted      bool           `json:"minted"`
}

// NewAnchor builds an Anchor view.
func NewAnchor(a *state.Anchor) *Anchor {
	return &Anchor{Digest: a.ResultDigest, IDAO: a.IDAO, Submission: a.Submission, Contributor: a.Contributor,
		DataHash: a.DataHash, Commitment: a.Commitment, QCHash: a.QCHash, Stake: amt(a.Stake), StakeHeight: a.StakeHeight, Tx: a.Tx,
		Block: a.Height, Minted: a.Minted}
}

// Bond is a bond.
type Bond struct {
	ID      common.Hash    `json:"id"`
	Owner   common.Address `json:"owner"`
	Amount  string         `json:"amount"`
	Arbiter common.Address `json:"arbiter"`
	Purpose string         `json:"purpose"`
	Block   uint64         `json:"block"`
}

// NewBond builds a Bond view.
func NewBond(b *state.Bond) *Bond {
	return &Bond{ID: b.ID, Owner: b.Owner, Amount: amt(b.Amount), Arbiter: b.Arbiter, Purpose: b.Purpose, Block: b.Height}
}

// ParseUint parses a decimal uint64 (for path parameters).
func ParseUint(s string) (uint64, bool) {
	v, err := strconv.ParseUint(s, 10, 64)
	return v, err == nil
}

// RedeemTypeString is the EIP-712 type of the receipt the sequencer signs
// for a DAT redemption; the data's server checks it before serving.
const RedeemTypeString = "RedeemReceipt(bytes32 token,bytes32 class,address owner,uint64 units,uint64 left,bytes32 tx,uint64 block)"

var redeemTypeHash = crypto.Keccak256Hash([]byte(RedeemTypeString))

// RedeemReceipt is a redemption, signed by the sequencer.
type RedeemReceipt struct {
	Token     common.Hash    `json:"token"`
	Class     common.Hash    `json:"class"`
	Owner     common.Address `json:"owner"`
	Units     uint64         `json:"units"`
	Left      uint64         `json:"left"`
	Tx        common.Hash    `json:"tx"`
	Block     uint64         `json:"block"`
	ChainID   uint64         `json:"chain_id"`
	Sequencer common.Address `json:"sequencer"`
	Signature string         `json:"signature"`
}

// Digest is the EIP-712 digest the sequencer signs.
func (r *RedeemReceipt) Digest() common.Hash {
	sh := eip712.StructHash(redeemTypeHash, r.Token, r.Class, eip712.AddressWord(r.Owner),
		eip712.Uint64Word(r.Units), eip712.Uint64Word(r.Left), r.Tx, eip712.Uint64Word(r.Block))
	return eip712.Digest(r.ChainID, sh)
}

// Verify checks the receipt's signature is the sequencer's.
func (r *RedeemReceipt) Verify() error {
	a, err := eip712.Recover(r.Digest(), common.FromHex(r.Signature))
	if err != nil {
		return err
	}
	if a != r.Sequencer {
		return fmt.Errorf("redeem receipt signed by %s, not the sequencer %s", a, r.Sequencer)
	}
	return nil
}

// ClassRedeem is one successful dat_redeem of a class's token (the list
// GET /v1/chain/dat/classes/{id}/redeems, newest first): the tx, its block
// and place, the token, the units used, who redeemed them (the token's
// owner, the tx's sender) and the block's time (unix milliseconds).
type ClassRedeem struct {
	Tx       common.Hash    `json:"tx"`
	Block    uint64         `json:"block"`
	Index    uint32         `json:"index"`
	Token    common.Hash    `json:"token"`
	Units    uint64         `json:"units"`
	Redeemer common.Address `json:"redeemer"`
	Time     uint64         `json:"time"`
}

// ClassRedeemList is one page of a class's redeems.
type ClassRedeemList struct {
	Redeems []*ClassRedeem `json:"redeems"`
	Next    string         `json:"next,omitempty"` // the following (older) page's cursor; empty on the last
}
