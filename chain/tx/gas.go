package tx

import (
	"fmt"

	"github.com/ethereum/go-ethereum/rlp"
)

// BodyBytesPerGas is the per-byte part of the fee: each BodyBytesPerGas
// bytes of a tx's encoded body (rounded up) cost one gas on top of its
// kind's gas, so a big tx pays for the block space, bandwidth and storage
// it takes. A full tx (MaxSize) pays 8192 gas for its bytes, about 350
// transfers; a transfer's 23 bytes cost 2. (Ethereum's calldata is priced
// in the same proportion to its base fee.)
const BodyBytesPerGas = 16

// Gas is the gas of a tx carrying body, whose encoding is size bytes: its
// kind's gas (the kinds table) plus ⌈size / BodyBytesPerGas⌉. The fee is
// Gas × the chain's gas price. It is consensus: the chain charges it, and
// clients use it to set a tx's max fee.
func Gas(body Body, size int) uint64 {
	return workGas(body) + (uint64(size)+BodyBytesPerGas-1)/BodyBytesPerGas
}

// GasOf is the gas of a tx carrying body (it encodes the body to size it).
func GasOf(body Body) (uint64, error) {
	b, err := rlp.EncodeToBytes(body)
	if err != nil {
		return 0, fmt.Errorf("encode %s body: %w", body.Kind(), err)
	}
	return Gas(body, len(b)), nil
}

// workGas is the work part of a body's gas (0 for a body of no kind).
func workGas(body Body) uint64 {
	if body == nil {
		return 0
	}
	if e := body.Kind().entry(); e != nil {
		return e.gas(body)
	}
	return 0
}

// flat is the gas of a kind whose work does not depend on its body.
func flat(g uint64) func(Body) uint64 { return func(Body) uint64 { return g } }

// anchorGas is an anchor's: a base and the check of each vote.
func anchorGas(b Body) uint64 {
	if a, ok := b.(*Anchor); ok {
		return 100 + 30*uint64(len(a.Votes))
	}
	return 100
}

// anchorBatchGas is an anchor batch's: a base and, per item, an anchor and
// a mint.
func anchorBatchGas(b Body) uint64 {
	g := uint64(50)
	if a, ok := b.(*AnchorBatch); ok {
		for _, it := range a.Items {
			g += 300 + 30*uint64(len(it.Anchor.Votes))
		}
	}
	return g
}
