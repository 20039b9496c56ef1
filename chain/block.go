package chain

import (
	"bytes"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"

	"github.com/vsc-labs/vsc/chain/tx"
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

// Event is something a tx did, for indexers and clients.
type Event struct {
	Type  string `json:"type"`
	Attrs []Attr `json:"attrs"`
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

// Receipt statuses.
const (
	StatusFailed  uint8 = 0
	StatusSuccess uint8 = 1
)

// Receipt is the outcome of one tx. A failed tx (Status 0) changed nothing
// but its sender's nonce and fee, and Error says why it failed.
type Receipt struct {
	TxHash  common.Hash    `json:"tx_hash"`
	Index   uint32         `json:"index"`
	Kind    string         `json:"kind"`
	Sender  common.Address `json:"sender"`
	Status  uint8          `json:"status"`
	GasUsed uint64         `json:"gas_used"`
	Fee     *big.Int       `json:"fee"`
	Error   string         `json:"error,omitempty"`
	Events  []Event        `json:"events"`
}

// Encode returns the receipt's RLP.
func (r *Receipt) Encode() []byte {
	b, _ := rlp.EncodeToBytes(r)
	return b
}

// Equal reports whether two receipts encode identically.
func (r *Receipt) Equal(o *Receipt) bool { return bytes.Equal(r.Encode(), o.Encode()) }
