package exec

import (
	"encoding/binary"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/chain/lanes"
	"github.com/vsc-labs/vsc/chain/state"
	"github.com/vsc-labs/vsc/chain/tx"
)

// Prepared is a tx ready to run: sender recovered, body decoded, accesses
// declared. Preparing is the expensive, parallel part (signature recovery).
type Prepared struct {
	Tx      *tx.Tx
	Hash    common.Hash
	Index   int
	Sender  common.Address
	Body    tx.Body
	Fee     *big.Int
	Access  []lanes.Access
	Signers []common.Address // recovered vote signers of an equivocation proof
	// Anchors is what was recovered for the anchor of an anchor tx, or for
	// each item of an anchor batch.
	Anchors []AnchorPrep
	// Jobs is what was recovered for each item of a settlement.
	Jobs []JobPrep
	Err  error // the tx is invalid as a whole: it never enters a block
}

// AnchorPrep is what Prepare recovered for one anchor: the signer of each
// vote (the zero address for a vote that does not recover) and the signer
// of the submission (zero if its signature does not recover), and the
// signed submission's digest.
type AnchorPrep struct {
	Signers     []common.Address
	Contributor common.Address
	Digest      common.Hash
}

// Prepare checks what needs no state and recovers the signatures: chain id,
// body decoding and the max fee first (cheap), then the sender's signature,
// and only then the ones the body carries (its kind's prepare), which a tx
// that fails the cheap checks never costs. It declares the accesses. It is
// safe to call concurrently.
func Prepare(cfg *Config, t *tx.Tx, index int) *Prepared {
	p := &Prepared{Tx: t, Hash: t.Hash(), Index: index}
	if t.ChainID != cfg.ChainID {
		p.Err = fmt.Errorf("%w: %d, chain is %d", ErrWrongChain, t.ChainID, cfg.ChainID)
		return p
	}
	b, err := t.DecodeBody()
	if err != nil {
		p.Err = err
		return p
	}
	p.Body = b
	p.Fee = cfg.TxFee(t, b)
	if t.MaxFee.Cmp(p.Fee) < 0 {
		p.Err = fmt.Errorf("%w: max %s, fee %s", ErrFeeTooLow, t.MaxFee, p.Fee)
		return p
	}
	s, err := t.Sender()
	if err != nil {
		p.Err = err
		return p
	}
	p.Sender = s
	p.Access = Accesses(s, p.Hash, b)
	RecoverSigners(cfg, p)
	return p
}

// RecoverSigners recovers the signatures p's body carries besides the
// sender's (an anchor's votes and contributor, an equivocation proof's
// votes) into p. The recoveries are cached (eip712.RecoverCached), so a
// sequencer that recovers at admission finds them again when it builds
// the block.
func RecoverSigners(cfg *Config, p *Prepared) {
	if r, ok := ruleOf(p.Body); ok && r.prepare != nil {
		r.prepare(cfg, p, p.Body)
	}
}

// NewTokenID derives the id of the i-th token a tx creates.
func NewTokenID(txHash common.Hash, i uint64) common.Hash {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], i)
	return crypto.Keccak256Hash([]byte("vsc/dat/token"), txHash[:], b[:])
}

// Accesses declares the keys a tx of sender with hash h and body b reads
// and writes (its kind's access). The sender's account is always written
// (nonce and fee).
func Accesses(sender common.Address, h common.Hash, b tx.Body) []lanes.Access {
	a := &accessList{sender: sender, hash: h}
	a.write(state.AccountKey(sender))
	if r, ok := ruleOf(b); ok {
		r.access(a, b)
	}
	return dedupe(a.acc)
}

// dedupe merges repeated keys of an access list (a write wins).
func dedupe(acc []lanes.Access) []lanes.Access {
	if len(acc) > 32 { // an anchor batch: quadratic scans would dominate
		idx := make(map[string]int, len(acc))
		out := acc[:0]
		for _, a := range acc {
			if i, ok := idx[a.Key]; ok {
				out[i].Write = out[i].Write || a.Write
				continue
			}
			idx[a.Key] = len(out)
			out = append(out, a)
		}
		return out
	}
	out := acc[:0]
	for _, a := range acc {
		dup := false
		for i := range out {
			if out[i].Key == a.Key {
				out[i].Write = out[i].Write || a.Write
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, a)
		}
	}
	return out
}
