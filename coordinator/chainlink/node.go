// Package chainlink connects the coordinator to the chain: reading iDAOs
// (members, stake, policy) and sending the anchor and mint txs of certified
// submissions, idempotently (a crash between send and record never anchors
// or mints twice: the chain refuses a second anchor of a digest, and the
// link reads back what is already there).
package chainlink

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/chain"
	"github.com/vsc-labs/vsc/chain/node"
	"github.com/vsc-labs/vsc/chain/tx"
	"github.com/vsc-labs/vsc/coordinator"
	"github.com/vsc-labs/vsc/coordinator/store"
	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/internal/codes"
	"github.com/vsc-labs/vsc/internal/keys"
	"github.com/vsc-labs/vsc/quorum"
)

// Local is the link to an in-process chain node (the devnet).
type Local struct {
	Chain *node.Node
	Key   *ecdsa.PrivateKey // the coordinator's chain account (pays anchor and mint fees)

	mu    sync.Mutex                      // one sender: nonces are assigned in order
	fence func(ctx context.Context) error // checked before each tx is built (SetFence)
}

// SetFence makes the link call f before it builds and signs each tx, and
// send nothing when f fails: the coordinator's finisher lease, so that a
// coordinator whose lease passed to another sends no tx on the account's
// nonces.
func (l *Local) SetFence(f func(ctx context.Context) error) { l.fence = f }

// IDAO reads an iDAO at the current head.
func (l *Local) IDAO(ctx context.Context, name string) (*idao.IDAO, error) { return l.Chain.IDAO(name) }

// AnchorAndMint anchors and mints certified submissions: those not yet on
// chain go out in anchor-batch txs (an anchor and a mint per item, one
// signature and one block for the batch); an anchored but unminted one gets
// its own mint. It waits until each is minted or its tx is decided.
func (l *Local) AnchorAndMint(ctx context.Context, certs []*store.Certificate) []coordinator.AnchorOutcome {
	out := make([]coordinator.AnchorOutcome, len(certs))
	txOf := map[int]common.Hash{}
	var todo []int
	for i, c := range certs {
		if a, err := l.Chain.Anchor(c.ResultDigest); err == nil {
			out[i].Info = &coordinator.AnchorInfo{Block: a.Height, Tx: a.Tx, QCHash: a.QCHash}
			out[i].Class, out[i].Err = l.Mint(ctx, c)
			continue
		}
		todo = append(todo, i)
	}
	for _, chunk := range anchorChunks(len(todo), func(k int) *store.Certificate { return certs[todo[k]] }) {
		cs := make([]*store.Certificate, len(chunk))
		for n, k := range chunk {
			cs[n] = certs[todo[k]]
		}
		hs, err := l.submit(ctx, anchorBatch(cs, l.stakeHeights()))
		for _, k := range chunk {
			if err != nil {
				out[todo[k]].Err = err
				continue
			}
			txOf[todo[k]] = hs[0]
		}
	}
	// Watch the anchors' state (a cheap read) rather than receipts (which
	// decode a whole block per waiter per block); read a receipt only once
	// its tx left the mempool and its item is still not minted.
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for len(txOf) > 0 {
		for i, h := range txOf {
			c := certs[i]
			if a, err := l.Chain.Anchor(c.ResultDigest); err == nil && a.Minted {
				out[i].Info, out[i].Class = &coordinator.AnchorInfo{Block: a.Height, Tx: a.Tx, QCHash: a.QCHash}, c.ResultDigest
				delete(txOf, i)
				continue
			}
			if !l.Chain.Pending(h) {
				out[i].Err = l.skipped(wctx, h, c.ResultDigest)
				delete(txOf, i)
			}
		}
		if len(txOf) == 0 {
			break
		}
		select {
		case <-wctx.Done():
			for i := range txOf {
				out[i].Err = fmt.Errorf("anchor and mint of %s: %w", certs[i].ResultDigest.Hex(), wctx.Err())
			}
			return out
		case <-time.After(20 * time.Millisecond):
		}
	}
	return out
}

// skipped explains why an item of the decided anchor batch h is not minted:
// the tx failed, or the item was skipped (the event names its code).
func (l *Local) skipped(ctx context.Context, h, digest common.Hash) error {
	r, err := l.wait(ctx, h)
	if err != nil {
		return fmt.Errorf("anchor %s: %w", digest.Hex(), err)
	}
	for _, e := range r.Events {
		if (e.Type == "anchor_skipped" || e.Type == "mint_skipped") && common.HexToHash(e.Get("digest")) == digest {
			why := e.Detail
			if why == "" {
				why = e.Code().Sentence()
			}
			return fmt.Errorf("anchor %s skipped by the chain: %w", digest.Hex(), &codes.Error{Code: e.Code(), Message: why})
		}
	}
	return fmt.Errorf("anchor %s: tx %s committed but the class is not minted", digest.Hex(), h.Hex())
}

// Mint sends the mint tx of an anchored digest (or finds the class) and
// returns the DAT class id.
func (l *Local) Mint(ctx context.Context, c *store.Certificate) (common.Hash, error) {
	if a, err := l.Chain.Anchor(c.ResultDigest); err == nil && a.Minted {
		return c.ResultDigest, nil
	}
	if _, err := l.send(ctx, mintTx(c)); err != nil && !errors.Is(err, errAlready) {
		return common.Hash{}, fmt.Errorf("mint %s: %w", c.ResultDigest.Hex(), err)
	}
	if _, err := l.Chain.Class(c.ResultDigest); err != nil {
		return common.Hash{}, err
	}
	return c.ResultDigest, nil
}

var errAlready = errors.New("already done on chain")

// Bounds of an anchor-batch tx: items, and an estimate of its encoded size
// kept well under tx.MaxSize (an item is ≈ 700 bytes with its signed
// submission, plus ≈ 200 per vote and 33 per hash of its batch path). An
// item alone may pass anchorBatchBytes: with the chain's member cap
// (idao.DefaultMaxMembers) its votes still fit in a tx.
const (
	anchorBatchItems = 32
	anchorBatchBytes = 64 << 10
)

// anchorChunks cuts n certificates (cert(k) is the k-th) into the index
// lists of anchor-batch txs.
func anchorChunks(n int, cert func(k int) *store.Certificate) [][]int {
	var out [][]int
	var cur []int
	size := 0
	for k := range n {
		c := cert(k)
		est := 700 + len(c.Submission.IDAO) + len(c.Submission.Mode) + len(c.Submission.Class)
		for _, v := range c.Votes {
			est += 120 + len(v.Signature)
			if v.Batch != nil {
				est += 33 * (len(v.Batch.Path) + 2)
			}
		}
		if len(cur) > 0 && (len(cur) == anchorBatchItems || size+est > anchorBatchBytes) {
			out, cur, size = append(out, cur), nil, 0
		}
		cur, size = append(cur, k), size+est
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// stakeHeights names the stake height of each certificate's QC: the latest
// recent height at which its votes make a QC (quorum.QCHeight; the head
// unless stake that joined since would dilute them).
func (l *Local) stakeHeights() func(c *store.Certificate) uint64 {
	head, now, params := l.Chain.StakeHeight(), uint64(time.Now().Unix()), l.Chain.StakingParams()
	daos := map[string]*idao.IDAO{}
	return func(c *store.Certificate) uint64 {
		d, ok := daos[c.Submission.IDAO]
		if !ok {
			d, _ = l.Chain.IDAO(c.Submission.IDAO)
			daos[c.Submission.IDAO] = d
		}
		if d == nil {
			return head
		}
		voters := make([]common.Address, len(c.Votes))
		for i, v := range c.Votes {
			voters[i] = v.Member
		}
		return quorum.QCHeight(d, voters, head, now, params)
	}
}

// anchorBatch is the anchor-batch tx of certificates, each QC counted at
// the height stakeHeight names.
func anchorBatch(cs []*store.Certificate, stakeHeight func(*store.Certificate) uint64) *tx.AnchorBatch {
	b := &tx.AnchorBatch{Items: make([]tx.AnchorItem, len(cs))}
	for i, c := range cs {
		b.Items[i] = tx.AnchorItem{Anchor: *anchorTx(c, stakeHeight(c)), Mint: *mintTx(c)}
	}
	return b
}

// anchorTx is the anchor of a certificate: the contributor's signed
// submission, the digest and its counted votes, counted at stakeHeight.
func anchorTx(c *store.Certificate, stakeHeight uint64) *tx.Anchor {
	a := &tx.Anchor{IDAO: c.Submission.IDAO, Submission: c.ID, ResultDigest: c.ResultDigest,
		Signed: c.Submission, Signature: c.Signature, StakeHeight: stakeHeight}
	for _, v := range c.Votes {
		a.Votes = append(a.Votes, tx.AnchorVote{Member: v.Member, Sig: v.Signature, Batch: tx.BatchProofOf(v.Batch)})
	}
	return a
}

// mintTx mints the default DAT class of a certified (and anchored) digest:
// the one any account may mint, whoever anchored it.
func mintTx(c *store.Certificate) *tx.DATMint {
	return &tx.DATMint{Digest: c.ResultDigest, IDAO: c.Submission.IDAO, ClassKind: c.Submission.Class,
		URI: tx.SubmissionURI(c.ID)}
}

// send signs body with the coordinator's key, submits it and waits for its
// receipt; a failed receipt is an error carrying the chain's reason.
func (l *Local) send(ctx context.Context, body tx.Body) (*chain.Receipt, error) {
	hs, err := l.submit(ctx, body)
	if err != nil {
		return nil, err
	}
	return l.wait(ctx, hs[0])
}

// submit signs and submits bodies with consecutive nonces of the
// coordinator's account, once the fence (if any) lets it.
func (l *Local) submit(ctx context.Context, bodies ...tx.Body) ([]common.Hash, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fence != nil {
		if err := l.fence(ctx); err != nil {
			return nil, fmt.Errorf("not sending: %w", err)
		}
	}
	nonce := l.Chain.NextNonce(keys.Address(l.Key))
	out := make([]common.Hash, 0, len(bodies))
	for i, body := range bodies {
		fee := new(big.Int).Mul(l.Chain.Fee(body), big.NewInt(2))
		t, err := tx.New(l.Chain.ChainID(), nonce+uint64(i), fee, body)
		if err == nil {
			t, err = t.Sign(l.Key)
		}
		var h common.Hash
		if err == nil {
			h, err = l.Chain.SubmitTx(t)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, nil
}

// wait waits for a tx's receipt; a failed receipt is an error with the
// chain's reason (errAlready when the work was already done).
func (l *Local) wait(ctx context.Context, h common.Hash) (*chain.Receipt, error) {
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	info, err := l.Chain.WaitReceipt(wctx, h)
	if err != nil {
		return nil, err
	}
	if info.Receipt.Status != chain.StatusSuccess {
		if isAlready(info.Receipt.Code) {
			return info.Receipt, errAlready
		}
		return info.Receipt, fmt.Errorf("tx %s failed on chain: %w", h.Hex(), info.Receipt.Err())
	}
	return info.Receipt, nil
}

// isAlready reports a failure code that means the anchor or mint is already
// on chain (a concurrent or earlier send won).
func isAlready(c codes.Code) bool { return c == codes.AlreadyAnchored || c == codes.AlreadyMinted }

// Registry serves the chain's iDAOs to the coordinator's intake, with the
// enclave key clients wrap data keys to (the verifier set's published key).
type Registry struct {
	Chain         *node.Node
	EnclavePubkey []byte
	EnclaveReport []byte
}

// IDAO reads an iDAO from the chain.
func (r *Registry) IDAO(ctx context.Context, name string) (*coordinator.Registered, error) {
	d, err := r.Chain.IDAO(name)
	if err != nil {
		return nil, fmt.Errorf("%w: %q", store.ErrUnknownIDAO, name)
	}
	return registered(d, r.EnclavePubkey, r.EnclaveReport), nil
}

// IDAOs lists the chain's iDAOs.
func (r *Registry) IDAOs(ctx context.Context) ([]*coordinator.Registered, error) {
	var out []*coordinator.Registered
	for _, d := range r.Chain.IDAOs() {
		out = append(out, registered(d, r.EnclavePubkey, r.EnclaveReport))
	}
	return out, nil
}

// registered is the coordinator's view of an on-chain iDAO, served with
// the verifier set's enclave key.
func registered(d *idao.IDAO, pub, report []byte) *coordinator.Registered {
	out := &coordinator.Registered{IDAO: d}
	if len(pub) > 0 {
		out.Enclave = &coordinator.EnclaveKey{PublicKey: pub, Report: report}
	}
	return out
}

// OpenClaims maps submissions to the status of their undecided claims.
func (l *Local) OpenClaims(ctx context.Context) (map[common.Hash]string, error) {
	out := map[common.Hash]string{}
	for _, c := range l.Chain.Claims(true) {
		out[c.Submission] = c.Status
	}
	return out, nil
}
