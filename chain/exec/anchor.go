package exec

import (
	"fmt"

	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/chain/state"
	"github.com/vsc-labs/vsc/chain/tx"
	"github.com/vsc-labs/vsc/internal/eip712"
	"github.com/vsc-labs/vsc/quorum"
)

// The anchor kinds: a certified result digest recorded with its QC, alone
// or in a batch that also mints each item's DAT class.
var anchorRules = map[tx.Kind]rule{
	tx.KindAnchor: kind[*tx.Anchor]{
		access: func(a *accessList, b *tx.Anchor) {
			a.read(state.IDAOKey(b.IDAO))
			a.write(state.AnchorKey(b.ResultDigest))
		},
		prepare: func(cfg *Config, p *Prepared, b *tx.Anchor) { p.Anchors = []AnchorPrep{prepareAnchor(cfg, b)} },
		apply:   func(r *run, b *tx.Anchor) error { return r.anchor(b, &r.p.Anchors[0]) },
	}.rule(),
	tx.KindAnchorBatch: kind[*tx.AnchorBatch]{
		access: func(a *accessList, b *tx.AnchorBatch) {
			for i, it := range b.Items {
				a.read(state.IDAOKey(it.Anchor.IDAO))
				a.write(state.AnchorKey(it.Anchor.ResultDigest), state.AnchorKey(it.Mint.Digest),
					state.ClassKey(it.Mint.Digest), state.TokenKey(NewTokenID(a.hash, uint64(i))))
			}
		},
		prepare: func(cfg *Config, p *Prepared, b *tx.AnchorBatch) {
			p.Anchors = make([]AnchorPrep, len(b.Items))
			for i := range b.Items {
				p.Anchors[i] = prepareAnchor(cfg, &b.Items[i].Anchor)
			}
		},
		apply: (*run).anchorBatch,
	}.rule(),
}

// prepareAnchor recovers the signer of each vote of an anchor and of its
// signed submission; what does not recover is the zero address (refused
// at execution).
func prepareAnchor(cfg *Config, b *tx.Anchor) AnchorPrep {
	out := AnchorPrep{Signers: make([]common.Address, len(b.Votes)), Digest: b.Signed.Digest(cfg.ChainID)}
	if a, err := eip712.RecoverCached(out.Digest, b.Signature); err == nil {
		out.Contributor = a
	}
	for i := range b.Votes {
		vote := b.Vote(i)
		if a, err := vote.Recover(cfg.ChainID); err == nil {
			out.Signers[i] = a
		}
	}
	return out
}

// anchorBatch applies each item on its own: an item that cannot apply is
// skipped with an event naming it and the failure's code.
func (r *run) anchorBatch(b *tx.AnchorBatch) error {
	if len(b.Items) == 0 || len(b.Items) > tx.MaxAnchorBatch {
		return fmt.Errorf("%w: an anchor batch holds 1 to %d items, got %d", ErrMismatch, tx.MaxAnchorBatch, len(b.Items))
	}
	for i := range b.Items {
		it := &b.Items[i]
		if it.Mint.Digest != it.Anchor.ResultDigest || it.Mint.IDAO != it.Anchor.IDAO {
			r.skip("anchor_skipped", []string{"digest", hx(it.Anchor.ResultDigest)}, ErrMintMismatch)
			continue
		}
		if err := r.anchor(&it.Anchor, &r.p.Anchors[i]); err != nil {
			r.skip("anchor_skipped", []string{"digest", hx(it.Anchor.ResultDigest)}, err)
			continue
		}
		if err := r.datMint(&it.Mint, uint64(i)); err != nil {
			r.skip("mint_skipped", []string{"digest", hx(it.Mint.Digest)}, err)
		}
	}
	return nil
}

// anchor records a certified digest. It binds the contributor's signed
// submission: the submission id must be the digest of the signed
// submission the anchor carries, of the anchor's iDAO, signed by the
// contributor it names; contributor, data hash, commitment and class are
// taken from it, never from the sender. The QC is counted at the anchor's
// stake height under idao.QCStake's rule.
func (r *run) anchor(b *tx.Anchor, prep *AnchorPrep) error {
	if prep.Digest != b.Submission {
		return fmt.Errorf("%w: it names %s, the signed submission's digest is %s", ErrSubmissionDigest, b.Submission.Hex(), prep.Digest.Hex())
	}
	if b.Signed.IDAO != b.IDAO {
		return fmt.Errorf("%w: the anchor is for iDAO %q, the signed submission for %q", ErrMismatch, b.IDAO, b.Signed.IDAO)
	}
	if prep.Contributor == (common.Address{}) || prep.Contributor != b.Signed.Contributor {
		return fmt.Errorf("%w %s", ErrWrongContributor, b.Signed.Contributor.Hex())
	}
	d, err := r.idao(b.IDAO)
	if err != nil {
		return err
	}
	set, err := d.QCStake(b.StakeHeight, r.env.Height, r.env.Now(), r.cfg.StakingParams())
	if err != nil {
		return err
	}
	key := state.AnchorKey(b.ResultDigest)
	if r.v.get(key) != nil {
		return fmt.Errorf("%w: %s", ErrAlreadyAnchored, b.ResultDigest)
	}
	q := b.QC()
	for i, s := range prep.Signers {
		if s == (common.Address{}) || s != b.Votes[i].Member {
			return fmt.Errorf("vote %d: %w", i, quorum.ErrBadSignature)
		}
	}
	stake, err := quorum.CheckQCSigners(q, prep.Signers, set)
	if err != nil {
		return err
	}
	qh := q.Hash()
	sub := &b.Signed
	r.v.put(key, state.Encode(&state.Anchor{IDAO: b.IDAO, Submission: b.Submission, ResultDigest: b.ResultDigest,
		Contributor: sub.Contributor, DataHash: sub.DataHash, Commitment: sub.Commitment, Class: sub.Class, QCHash: qh,
		Stake: stake, StakeHeight: b.StakeHeight, Tx: r.p.Hash, Height: r.env.Height, Sender: r.p.Sender}))
	r.emit("anchored", "idao", b.IDAO, "submission", hx(b.Submission), "digest", hx(b.ResultDigest),
		"qc_hash", hx(qh), "stake", stake.String())
	return nil
}
