// Package exec is the chain's state transition: what every tx kind does to
// the state, and the execution of a whole block, either sequentially or in
// parallel lanes. Both give the same receipts and the same state root; that
// equality is tested for every lane count.
//
// Execution is deterministic and pure: it reads a state.Reader, returns
// writes and receipts, and takes time only from the block header.
package exec

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"

	"github.com/vsc-labs/vsc/chain/lanes"
	"github.com/vsc-labs/vsc/chain/state"
	"github.com/vsc-labs/vsc/chain/tx"
	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/internal/eip712"
	"github.com/vsc-labs/vsc/optimistic"
	"github.com/vsc-labs/vsc/quorum"
)

// Errors of tx validity; receipts carry their text.
var (
	ErrWrongChain        = errors.New("wrong chain id")
	ErrNonce             = errors.New("nonce does not match the account's next nonce")
	ErrFeeTooLow         = errors.New("max fee below the tx's fee")
	ErrInsufficientFunds = errors.New("insufficient balance")
	ErrUndeclaredAccess  = errors.New("tx touched a state key it did not declare")
	ErrUnknownIDAO       = errors.New("unknown iDAO")
	ErrIDAOExists        = errors.New("iDAO already exists")
	ErrNoAnchor          = errors.New("no anchor certifies this digest")
	ErrAlreadyAnchored   = errors.New("digest already anchored")
	ErrAlreadyMinted     = errors.New("anchor already minted")
	ErrNotMinter         = errors.New("only the contributor may choose a DAT class's terms; any other account may mint only the default class")
	ErrUnknownClass      = errors.New("unknown DAT class")
	ErrUnknownToken      = errors.New("unknown DAT token")
	ErrUnknownBond       = errors.New("unknown bond")
	ErrBondExists        = errors.New("bond id already used")
	ErrNotArbiter        = errors.New("only the bond's arbiter may do this")
	ErrNotOwner          = errors.New("only the owner may do this")
	ErrBadAmount         = errors.New("amount must be positive")
	ErrEnclaveRefused    = errors.New("enclave key refused")
	ErrAlreadyRegistered = errors.New("already registered")
	ErrMismatch          = errors.New("tx fields do not match the stored record")
	ErrWrongContributor  = errors.New("the anchored submission is not signed by its contributor")
	ErrSubmissionDigest  = errors.New("the anchor's submission id is not the digest of the signed submission it carries")
)

// EnclaveVerifier checks an enclave key's attestation report against an
// iDAO's TEE policy. The tee package provides one; without it the chain
// refuses every enclave registration. It must be deterministic.
type EnclaveVerifier interface {
	VerifyEnclaveKey(idao string, policy json.RawMessage, pubKey, report []byte) error
}

// Config is the chain's consensus configuration.
type Config struct {
	ChainID  uint64
	GasPrice *big.Int
	Enclave  EnclaveVerifier
	// Optimistic are the optimistic game's numbers (nil: optimistic.DefaultParams).
	Optimistic *optimistic.Params
	// Staking are the staking rules (nil: idao.DefaultParams).
	Staking *idao.Params
}

// StakingParams are the staking rules in force.
func (c *Config) StakingParams() idao.Params {
	if c.Staking == nil {
		return idao.DefaultParams()
	}
	return *c.Staking
}

// Env is the block context a tx runs in.
type Env struct {
	Height   uint64
	Time     uint64 // unix milliseconds
	Proposer common.Address
}

// Now is the block time in unix seconds.
func (e *Env) Now() uint64 { return e.Time / 1000 }

// BodyBytesPerGas is the per-byte part of the fee: each BodyBytesPerGas
// bytes of a tx's encoded body (rounded up) cost one gas on top of its
// kind's gas, so a big tx pays for the block space, bandwidth and storage
// it takes. A full tx (tx.MaxSize) pays 8192 gas for its bytes, about 350
// transfers; a transfer's 23 bytes cost 2. (Ethereum's calldata is priced
// in the same proportion to its base fee.)
const BodyBytesPerGas = 16

// Gas is the gas of a tx of kind k whose encoded body (body) is size bytes:
// its kind's gas plus ⌈size / BodyBytesPerGas⌉. The fee is Gas × GasPrice.
func Gas(k tx.Kind, body tx.Body, size int) uint64 {
	return kindGas(k, body) + (uint64(size)+BodyBytesPerGas-1)/BodyBytesPerGas
}

// GasOf is the gas of a tx carrying body (it encodes the body to size it).
func GasOf(body tx.Body) (uint64, error) {
	b, err := rlp.EncodeToBytes(body)
	if err != nil {
		return 0, fmt.Errorf("encode %s body: %w", body.Kind(), err)
	}
	return Gas(body.Kind(), body, len(b)), nil
}

// kindGas is the work part of a kind's gas.
func kindGas(k tx.Kind, body tx.Body) uint64 {
	switch k {
	case tx.KindTransfer:
		return 21
	case tx.KindIDAOCreate, tx.KindEnclaveRegister, tx.KindDATMint, tx.KindSlashEquivocation:
		return 200
	case tx.KindAnchor:
		if a, ok := body.(*tx.Anchor); ok {
			return 100 + 30*uint64(len(a.Votes))
		}
		return 100
	case tx.KindAnchorBatch: // an anchor and a mint per item
		g := uint64(50)
		if a, ok := body.(*tx.AnchorBatch); ok {
			for _, it := range a.Items {
				g += 300 + 30*uint64(len(it.Anchor.Votes))
			}
		}
		return g
	case tx.KindDATBuy, tx.KindIDAOSetPolicy:
		return 80
	case tx.KindDATTransfer:
		return 60
	case tx.KindDATRedeem:
		return 40
	case tx.KindOptClaim, tx.KindOptChallenge:
		return 150
	case tx.KindOptStep:
		return 400 // ≈ 50 Poseidon2 compressions
	}
	return 50
}

// Fee is the fee of a tx of kind k whose encoded body is size bytes.
func (c *Config) Fee(k tx.Kind, body tx.Body, size int) *big.Int {
	return new(big.Int).Mul(new(big.Int).SetUint64(Gas(k, body, size)), c.GasPrice)
}

// TxFee is the fee of t (body is t's decoded body).
func (c *Config) TxFee(t *tx.Tx, body tx.Body) *big.Int { return c.Fee(t.Kind, body, len(t.Body)) }

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
	Err     error // the tx is invalid as a whole: it never enters a block
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
// and only then the votes' and the contributor's, which a tx that fails the
// cheap checks never costs. It declares the accesses. It is safe to call
// concurrently.
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

// RecoverSigners recovers the votes' and contributors' signers of p's body
// into p. The recoveries are cached (eip712.RecoverCached), so a sequencer
// that recovers at admission finds them again when it builds the block.
func RecoverSigners(cfg *Config, p *Prepared) {
	switch b := p.Body.(type) {
	case *tx.Anchor:
		p.Anchors = []AnchorPrep{prepareAnchor(cfg, b)}
	case *tx.AnchorBatch:
		p.Anchors = make([]AnchorPrep, len(b.Items))
		for i := range b.Items {
			p.Anchors[i] = prepareAnchor(cfg, &b.Items[i].Anchor)
		}
	case *tx.SlashEquivocation:
		p.Signers = make([]common.Address, 2)
		for i, v := range []tx.EquivocationVote{b.A, b.B} {
			vote := quorum.Vote{IDAO: b.IDAO, Submission: v.Submission, ResultDigest: v.ResultDigest, Approve: true,
				Signature: v.Sig, Batch: BatchProof(v.Batch)}
			p.Signers[i], _ = vote.Recover(cfg.ChainID)
		}
	}
}

// prepareAnchor recovers the signer of each vote of an anchor and of its
// signed submission; what does not recover is the zero address (refused
// at execution).
func prepareAnchor(cfg *Config, b *tx.Anchor) AnchorPrep {
	out := AnchorPrep{Signers: make([]common.Address, len(b.Votes)), Digest: b.Signed.Digest(cfg.ChainID)}
	if a, err := eip712.RecoverCached(out.Digest, b.Signature); err == nil {
		out.Contributor = a
	}
	for i, v := range b.Votes {
		vote := quorum.Vote{IDAO: b.IDAO, Submission: b.Submission, ResultDigest: b.ResultDigest, Approve: true,
			Signature: v.Sig, Batch: BatchProof(v.Batch)}
		if a, err := vote.Recover(cfg.ChainID); err == nil {
			out.Signers[i] = a
		}
	}
	return out
}

// NewTokenID derives the id of the i-th token a tx creates.
func NewTokenID(txHash common.Hash, i uint64) common.Hash {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], i)
	return crypto.Keccak256Hash([]byte("vsc/dat/token"), txHash[:], b[:])
}

// Accesses declares the keys a tx reads and writes. The sender's account is
// always written (nonce and fee).
func Accesses(sender common.Address, h common.Hash, b tx.Body) []lanes.Access {
	w := func(k string) lanes.Access { return lanes.Access{Key: k, Write: true} }
	r := func(k string) lanes.Access { return lanes.Access{Key: k} }
	acc := []lanes.Access{w(state.AccountKey(sender))}
	if opt, ok := optAccesses(sender, b); ok {
		return dedupe(append(acc, opt...))
	}
	switch b := b.(type) {
	case *tx.Transfer:
		acc = append(acc, w(state.AccountKey(b.To)))
	case *tx.IDAOCreate:
		acc = append(acc, w(state.IDAOKey(b.Name)))
	case *tx.IDAOJoin:
		acc = append(acc, w(state.IDAOKey(b.Name)))
	case *tx.IDAOLeave:
		acc = append(acc, w(state.IDAOKey(b.Name)))
	case *tx.IDAOWithdraw:
		acc = append(acc, w(state.IDAOKey(b.Name)))
	case *tx.IDAOSetPolicy:
		acc = append(acc, w(state.IDAOKey(b.Name)))
	case *tx.EnclaveRegister:
		acc = append(acc, r(state.IDAOKey(b.IDAO)), w(state.EnclaveKey(b.IDAO, b.PubKey)))
	case *tx.VKRegister:
		acc = append(acc, r(state.IDAOKey(b.IDAO)), w(state.VKKey(b.VKHash)))
	case *tx.Anchor:
		acc = append(acc, r(state.IDAOKey(b.IDAO)), w(state.AnchorKey(b.ResultDigest)))
	case *tx.AnchorBatch:
		for i, it := range b.Items {
			acc = append(acc, r(state.IDAOKey(it.Anchor.IDAO)), w(state.AnchorKey(it.Anchor.ResultDigest)),
				w(state.AnchorKey(it.Mint.Digest)), w(state.ClassKey(it.Mint.Digest)), w(state.TokenKey(NewTokenID(h, uint64(i)))))
		}
	case *tx.DATMint:
		acc = append(acc, r(state.IDAOKey(b.IDAO)), w(state.AnchorKey(b.Digest)),
			w(state.ClassKey(b.Digest)), w(state.TokenKey(NewTokenID(h, 0))))
	case *tx.DATBuy:
		acc = append(acc, w(state.ClassKey(b.Class)), w(state.TokenKey(NewTokenID(h, 0))))
	case *tx.DATRedeem:
		acc = append(acc, w(state.TokenKey(b.Token)))
	case *tx.DATTransfer:
		acc = append(acc, w(state.ClassKey(b.Class)), w(state.TokenKey(b.Token)))
		if b.Value != 0 || b.Shares != 0 {
			acc = append(acc, w(state.TokenKey(NewTokenID(h, 0))))
		}
	case *tx.DATClaim:
		acc = append(acc, w(state.ClassKey(b.Class)), w(state.TokenKey(b.Token)))
	case *tx.BondLock:
		acc = append(acc, w(state.UserBondKey(b.ID)))
	case *tx.BondRelease:
		acc = append(acc, w(state.UserBondKey(b.ID)), w(state.AccountKey(b.Owner)))
	case *tx.BondSlash:
		acc = append(acc, w(state.UserBondKey(b.ID)), w(state.AccountKey(b.Owner)),
			w(state.AccountKey(b.Winner)), w(state.BurnedKey))
	case *tx.SlashEquivocation:
		acc = append(acc, w(state.IDAOKey(b.IDAO)), w(state.AccountKey(b.Member)), w(state.BurnedKey),
			w(state.SlashedKey(b.Member, b.A.Submission)))
	}
	return dedupe(acc)
}

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
