package exec

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/chain/state"
	"github.com/vsc-labs/vsc/chain/tx"
	"github.com/vsc-labs/vsc/dat"
	"github.com/vsc-labs/vsc/tee/query"
)

// The DAT kinds: the mint of an anchored digest's class, and its tokens'
// buy, redeem, transfer and revenue claim.
var datRules = map[tx.Kind]rule{
	tx.KindDATMint: kind[*tx.DATMint]{
		access: func(a *accessList, b *tx.DATMint) {
			a.read(state.IDAOKey(b.IDAO))
			a.write(state.AnchorKey(b.Digest), state.ClassKey(b.Digest), state.TokenKey(NewTokenID(a.hash, 0)))
		},
		apply: func(r *run, b *tx.DATMint) error { return r.datMint(b, 0) },
	}.rule(),
	tx.KindDATBuy: kind[*tx.DATBuy]{
		access: func(a *accessList, b *tx.DATBuy) {
			a.write(state.ClassKey(b.Class), state.TokenKey(NewTokenID(a.hash, 0)))
		},
		apply: (*run).datBuy,
	}.rule(),
	tx.KindDATRedeem: kind[*tx.DATRedeem]{
		access: func(a *accessList, b *tx.DATRedeem) { a.write(state.TokenKey(b.Token)) },
		apply:  (*run).datRedeem,
	}.rule(),
	tx.KindDATTransfer: kind[*tx.DATTransfer]{
		access: func(a *accessList, b *tx.DATTransfer) {
			a.write(state.ClassKey(b.Class), state.TokenKey(b.Token))
			if b.Value != 0 || b.Shares != 0 {
				a.write(state.TokenKey(NewTokenID(a.hash, 0)))
			}
		},
		apply: (*run).datTransfer,
	}.rule(),
	tx.KindDATQueryPolicy: kind[*tx.DATQueryPolicy]{
		access: func(a *accessList, b *tx.DATQueryPolicy) {
			a.read(state.AnchorKey(b.Class))
			a.write(state.ClassKey(b.Class))
		},
		apply: (*run).datQueryPolicy,
	}.rule(),
	tx.KindDATClaim: kind[*tx.DATClaim]{
		access: func(a *accessList, b *tx.DATClaim) { a.write(state.ClassKey(b.Class), state.TokenKey(b.Token)) },
		apply:  (*run).datClaim,
	}.rule(),
}

// datMint mints b's class; its first token is the tx's token number tok.
func (r *run) datMint(b *tx.DATMint, tok uint64) error {
	var an state.Anchor
	if err := r.load(state.AnchorKey(b.Digest), &an, fmt.Errorf("%w: %s", ErrNoAnchor, b.Digest)); err != nil {
		return err
	}
	if an.Minted {
		return ErrAlreadyMinted
	}
	if an.IDAO != b.IDAO {
		return fmt.Errorf("%w: anchor is for iDAO %q", ErrMismatch, an.IDAO)
	}
	if r.p.Sender != an.Contributor {
		// Anyone may mint the default class, so a front-runner who anchored
		// first can neither block the mint nor set the class's terms.
		if !defaultMint(b, &an) {
			return ErrNotMinter
		}
		b = &tx.DATMint{Digest: b.Digest, IDAO: b.IDAO, ClassKind: an.Class, URI: tx.SubmissionURI(an.Submission)}
	}
	d, err := r.idao(b.IDAO)
	if err != nil {
		return err
	}
	price := b.Price
	if price == nil || price.Sign() == 0 {
		price = d.Policy.Price
	}
	shares := b.TotalShares
	if shares == 0 {
		shares = tx.DefaultShares
	}
	tokID := NewTokenID(r.p.Hash, tok)
	c, t, err := dat.NewClass(dat.MintParams{ID: b.Digest, Kind: b.ClassKind, URI: b.URI, IDAO: b.IDAO,
		Provenance: dat.Provenance{Submission: an.Submission, DataHash: an.DataHash, Commitment: an.Commitment,
			QCHash: an.QCHash, AnchorTx: an.Tx},
		Price: price, TotalShares: shares, Validity: b.Validity, Owner: an.Contributor,
		FirstToken: tokID, FirstValue: b.FirstValue, Now: r.env.Now()})
	if err != nil {
		return err
	}
	an.Minted = true
	r.v.put(state.AnchorKey(b.Digest), state.Encode(&an))
	r.v.put(state.ClassKey(c.ID), state.Encode(c))
	r.v.put(state.TokenKey(t.ID), state.Encode(t))
	r.emit("dat_minted", "class", hx(c.ID), "token", hx(t.ID), "owner", hx(t.Owner),
		"shares", strconv.FormatUint(shares, 10), "price", price.String())
	return nil
}

// defaultMint reports whether b mints the default class of an: no
// parameter chosen, kind and URI empty or the submission's.
func defaultMint(b *tx.DATMint, an *state.Anchor) bool {
	return (b.Price == nil || b.Price.Sign() == 0) && b.TotalShares == 0 && b.Validity == 0 && b.FirstValue == 0 &&
		(b.ClassKind == "" || b.ClassKind == an.Class) && (b.URI == "" || b.URI == tx.SubmissionURI(an.Submission))
}

func (r *run) class(id common.Hash) (*dat.Class, error) {
	c := new(dat.Class)
	if err := r.load(state.ClassKey(id), c, fmt.Errorf("%w: %s", ErrUnknownClass, id)); err != nil {
		return nil, err
	}
	return c, nil
}

func (r *run) token(id common.Hash) (*dat.Token, error) {
	t := new(dat.Token)
	if err := r.load(state.TokenKey(id), t, fmt.Errorf("%w: %s", ErrUnknownToken, id)); err != nil {
		return nil, err
	}
	return t, nil
}

func (r *run) datBuy(b *tx.DATBuy) error {
	c, err := r.class(b.Class)
	if err != nil {
		return err
	}
	if b.Units == 0 {
		return dat.ErrZeroUnits
	}
	acc, err := r.debit(r.p.Sender, c.Cost(b.Units), "buy")
	if err != nil {
		return err
	}
	t, cost, err := dat.Buy(c, r.p.Sender, b.Units, NewTokenID(r.p.Hash, 0), r.env.Now())
	if err != nil {
		return err
	}
	r.putAccount(r.p.Sender, acc)
	r.v.put(state.ClassKey(c.ID), state.Encode(c))
	r.v.put(state.TokenKey(t.ID), state.Encode(t))
	r.emit("dat_bought", "class", hx(c.ID), "token", hx(t.ID), "buyer", hx(r.p.Sender),
		"units", strconv.FormatUint(b.Units, 10), "paid", cost.String())
	return nil
}

func (r *run) datRedeem(b *tx.DATRedeem) error {
	t, err := r.token(b.Token)
	if err != nil {
		return err
	}
	if err := dat.Redeem(t, r.p.Sender, b.Units, r.env.Now()); err != nil {
		return err
	}
	r.v.put(state.TokenKey(t.ID), state.Encode(t))
	r.emit("dat_redeemed", "class", hx(t.Class), "token", hx(t.ID), "owner", hx(t.Owner),
		"units", strconv.FormatUint(b.Units, 10), "left", strconv.FormatUint(t.Value, 10))
	return nil
}

func (r *run) datTransfer(b *tx.DATTransfer) error {
	c, err := r.class(b.Class)
	if err != nil {
		return err
	}
	t, err := r.token(b.Token)
	if err != nil {
		return err
	}
	if t.Class != c.ID {
		return dat.ErrWrongClass
	}
	if b.Value == 0 && b.Shares == 0 {
		paid, err := dat.TransferWhole(c, t, r.p.Sender, b.To)
		if err != nil {
			return err
		}
		if err := r.credit(r.p.Sender, paid); err != nil {
			return err
		}
		r.v.put(state.ClassKey(c.ID), state.Encode(c))
		r.v.put(state.TokenKey(t.ID), state.Encode(t))
		r.emit("dat_transferred", "token", hx(t.ID), "from", hx(r.p.Sender), "to", hx(b.To), "claimed", paid.String())
		return nil
	}
	nt, err := dat.Split(c, t, r.p.Sender, b.To, b.Value, b.Shares, NewTokenID(r.p.Hash, 0))
	if err != nil {
		return err
	}
	r.v.put(state.ClassKey(c.ID), state.Encode(c))
	r.v.put(state.TokenKey(t.ID), state.Encode(t))
	r.v.put(state.TokenKey(nt.ID), state.Encode(nt))
	r.emit("dat_split", "token", hx(t.ID), "new_token", hx(nt.ID), "from", hx(r.p.Sender), "to", hx(b.To),
		"value", strconv.FormatUint(b.Value, 10), "shares", strconv.FormatUint(b.Shares, 10))
	return nil
}

func (r *run) datClaim(b *tx.DATClaim) error {
	c, err := r.class(b.Class)
	if err != nil {
		return err
	}
	t, err := r.token(b.Token)
	if err != nil {
		return err
	}
	paid, err := dat.Claim(c, t, r.p.Sender)
	if err != nil {
		return err
	}
	if err := r.credit(r.p.Sender, paid); err != nil {
		return err
	}
	r.v.put(state.ClassKey(c.ID), state.Encode(c))
	r.v.put(state.TokenKey(t.ID), state.Encode(t))
	r.emit("dat_claimed", "class", hx(c.ID), "token", hx(t.ID), "owner", hx(r.p.Sender), "claimed", paid.String())
	return nil
}

// datQueryPolicy sets the queries a class's data may answer: only its
// contributor (the signer of the anchored submission) may.
func (r *run) datQueryPolicy(b *tx.DATQueryPolicy) error {
	c, err := r.class(b.Class)
	if err != nil {
		return err
	}
	var an state.Anchor
	if err := r.load(state.AnchorKey(b.Class), &an, fmt.Errorf("%w: %s", ErrNoAnchor, b.Class)); err != nil {
		return err
	}
	if an.Contributor != r.p.Sender {
		return fmt.Errorf("%w: class %s's contributor is %s", ErrNotMinter, b.Class.Hex(), an.Contributor.Hex())
	}
	if len(b.Allowed) > maxPolicyAggregates || len(b.Columns) > query.MaxPolicyColumns {
		return fmt.Errorf("%w: a query policy lists at most %d aggregates and %d columns", dat.ErrBadClass, maxPolicyAggregates, query.MaxPolicyColumns)
	}
	for _, n := range append(slices.Clone(b.Allowed), b.Columns...) {
		if len(n) > maxPolicyNameBytes {
			return fmt.Errorf("%w: a query policy's names are at most %d bytes", dat.ErrBadClass, maxPolicyNameBytes)
		}
	}
	if err := (query.Policy{Allowed: b.Allowed, Columns: b.Columns}).Validate(); err != nil {
		return fmt.Errorf("%w: %v", dat.ErrBadClass, err)
	}
	c.QueryAllowed, c.QueryColumns = b.Allowed, b.Columns
	r.v.put(state.ClassKey(c.ID), state.Encode(c))
	r.emit("dat_query_policy", "class", hx(c.ID), "allowed", strings.Join(b.Allowed, ","), "columns", strings.Join(b.Columns, ","))
	return nil
}

// Bounds of a class's query policy.
const (
	maxPolicyAggregates = 16
	maxPolicyNameBytes  = 64
)
