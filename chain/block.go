package chain

import (
	"bytes"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"math/big"
	"strconv"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"

	"github.com/vsc-labs/vsc/chain/tx"
	"github.com/vsc-labs/vsc/internal/codes"
)

// ErrBadBlockSignature is returned when a header is not signed by the
// expected sequencer.
var ErrBadBlockSignature = errors.New("chain: block not signed by the sequencer")

// Header is a block header. Hash covers every field but Sig; Sig is the
// sequencer's secp256k1 signature over Hash.
type Header struct {
	ParentHash  common.Hash    `json:"parent_hash"`
	Height      uint64         `json:"height"`
	Time        uint64         `json:"time"` // unix milliseconds
	Proposer    common.Address `json:"proposer"`
	TxRoot      common.Hash    `json:"tx_root"`
	ReceiptRoot common.Hash    `json:"receipt_root"`
	StateRoot   common.Hash    `json:"state_root"`
	TxCount     uint32         `json:"tx_count"`
	GasUsed     uint64         `json:"gas_used"`
	Sig         hexutil.Bytes  `json:"signature"`
}

type unsignedHeader struct {
	ParentHash  common.Hash
	Height      uint64
	Time        uint64
	Proposer    common.Address
	TxRoot      common.Hash
	ReceiptRoot common.Hash
	StateRoot   common.Hash
	TxCount     uint32
	GasUsed     uint64
}

// Hash is keccak256 of the RLP of the header without its signature.
func (h *Header) Hash() common.Hash {
	b, _ := rlp.EncodeToBytes(&unsignedHeader{h.ParentHash, h.Height, h.Time, h.Proposer,
		h.TxRoot, h.ReceiptRoot, h.StateRoot, h.TxCount, h.GasUsed})
	return crypto.Keccak256Hash(b)
}

// Seconds is the header time in unix seconds, the clock the state rules use.
func (h *Header) Seconds() uint64 { return h.Time / 1000 }

// Sign sets Sig with the sequencer key.
func (h *Header) Sign(key *ecdsa.PrivateKey) error {
	hh := h.Hash()
	sig, err := crypto.Sign(hh[:], key)
	if err != nil {
		return fmt.Errorf("sign header %d: %w", h.Height, err)
	}
	h.Sig = sig
	return nil
}

// VerifySig checks that Sig is the proposer's signature over Hash.
func (h *Header) VerifySig() error {
	if len(h.Sig) != 65 {
		return ErrBadBlockSignature
	}
	hh := h.Hash()
	pub, err := crypto.SigToPub(hh[:], h.Sig)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadBlockSignature, err)
	}
	if crypto.PubkeyToAddress(*pub) != h.Proposer {
		return ErrBadBlockSignature
	}
	return nil
}

// Block is a header and its txs.
type Block struct {
	Header *Header
	Txs    []*tx.Tx
}

type wireBlock struct {
	Header *Header
	Txs    [][]byte
}

// Encode returns the block's RLP (txs in their canonical encoding).
func (b *Block) Encode() []byte {
	w := wireBlock{Header: b.Header, Txs: make([][]byte, len(b.Txs))}
	for i, t := range b.Txs {
		w.Txs[i] = t.Encode()
	}
	out, _ := rlp.EncodeToBytes(&w)
	return out
}

// DecodeBlock parses Encode's output.
func DecodeBlock(b []byte) (*Block, error) {
	var w wireBlock
	if err := rlp.DecodeBytes(b, &w); err != nil {
		return nil, fmt.Errorf("decode block: %w", err)
	}
	blk := &Block{Header: w.Header, Txs: make([]*tx.Tx, len(w.Txs))}
	for i, e := range w.Txs {
		t, err := tx.Decode(e)
		if err != nil {
			return nil, fmt.Errorf("decode block %d tx %d: %w", w.Header.Height, i, err)
		}
		blk.Txs[i] = t
	}
	return blk, nil
}

// Attr is one key/value of an event.
type Attr struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Event is something a tx did, for indexers and clients. Its type, keys
// and values are consensus data (in the receipt root): a fixed vocabulary
// and values rendered from state (hex, decimal), never a sentence. An item
// of a batch that was skipped says why by its failure code's number (the
// "code" attribute).
type Event struct {
	Type  string `json:"type"`
	Attrs []Attr `json:"attrs"`
	// Detail is the specifics of why (an item's failure, a game's
	// decision) in words. It is no consensus data: not encoded, not in the
	// receipt root; the node stores it beside the receipts for its API.
	Detail string `json:"-" rlp:"-"`
}

// Get returns the value of key in the event, or "".
func (e *Event) Get(key string) string {
	for _, a := range e.Attrs {
		if a.Key == key {
			return a.Value
		}
	}
	return ""
}

// Code is the failure code an event names (its "code" attribute), or OK.
func (e *Event) Code() codes.Code {
	n, err := strconv.ParseUint(e.Get("code"), 10, 16)
	if err != nil {
		return codes.OK
	}
	return codes.Code(n)
}

// Receipt statuses.
const (
	StatusFailed  uint8 = 0
	StatusSuccess uint8 = 1
)

// Receipt is the outcome of one tx. A failed tx (Status 0) changed nothing
// but its sender's nonce and fee, and Code says why it failed. Everything
// but Detail is consensus data (Encode, the receipt root), and none of it
// is free text, so rewording an error never changes a root.
type Receipt struct {
	TxHash  common.Hash    `json:"tx_hash"`
	Index   uint32         `json:"index"`
	Kind    tx.Kind        `json:"kind"`
	Sender  common.Address `json:"sender"`
	Status  uint8          `json:"status"`
	GasUsed uint64         `json:"gas_used"`
	Fee     *big.Int       `json:"fee"`
	Code    codes.Code     `json:"code,omitempty"`
	Events  []Event        `json:"events"`
	// Detail is what went wrong in words, with the specifics the code's
	// sentence lacks. It is no consensus data: not encoded, not in the
	// receipt root; the node stores it beside the receipts for its API.
	Detail string `json:"detail,omitempty" rlp:"-"`
}

// Encode returns the receipt's RLP.
func (r *Receipt) Encode() []byte {
	b, _ := rlp.EncodeToBytes(r)
	return b
}

// Equal reports whether two receipts encode identically.
func (r *Receipt) Equal(o *Receipt) bool { return bytes.Equal(r.Encode(), o.Encode()) }

// Message is what a failed receipt says: its Detail, or its code's
// sentence when the detail is not at hand ("" on success).
func (r *Receipt) Message() string {
	switch {
	case r.Status == StatusSuccess:
		return ""
	case r.Detail != "":
		return r.Detail
	}
	return r.Code.Sentence()
}

// Err is a failed receipt's failure as an error carrying its code (nil on
// success).
func (r *Receipt) Err() error {
	if r.Status == StatusSuccess {
		return nil
	}
	return &codes.Error{Code: r.Code, Message: r.Message()}
}
