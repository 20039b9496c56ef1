package exec

import (
	"fmt"
	"math/big"
	"strconv"

	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/chain"
	"github.com/vsc-labs/vsc/chain/lanes"
	"github.com/vsc-labs/vsc/chain/state"
	"github.com/vsc-labs/vsc/chain/tx"
	"github.com/vsc-labs/vsc/dat"
	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/optimistic"
	"github.com/vsc-labs/vsc/quorum"
)

// Overlay is a lane's (or a sequential run's) pending writes over a base.
type Overlay struct {
	Base   state.Reader
	Writes map[string][]byte
}

// NewOverlay returns an empty overlay over base, sized for about hint keys.
func NewOverlay(base state.Reader, hint int) *Overlay {
	return &Overlay{Base: base, Writes: make(map[string][]byte, hint)}
}

// Get reads through the overlay.
func (o *Overlay) Get(key string) []byte {
	if v, ok := o.Writes[key]; ok {
		return v
	}
	return o.Base.Get(key)
}

// txView buffers one tx's writes and enforces its declared accesses.
type txView struct {
	parent  *Overlay
	allowed []lanes.Access
	keys    []string
	vals    [][]byte
	bad     error
}

func (v *txView) allow(key string, write bool) bool {
	for _, a := range v.allowed {
		if a.Key == key {
			return a.Write || !write
		}
	}
	return false
}

func (v *txView) get(key string) []byte {
	if !v.allow(key, false) {
		v.bad = fmt.Errorf("%w: read %q", ErrUndeclaredAccess, key)
		return nil
	}
	for i := len(v.keys) - 1; i >= 0; i-- {
		if v.keys[i] == key {
			return v.vals[i]
		}
	}
	return v.parent.Get(key)
}

func (v *txView) put(key string, val []byte) {
	if !v.allow(key, true) {
		v.bad = fmt.Errorf("%w: write %q", ErrUndeclaredAccess, key)
		return
	}
	v.keys = append(v.keys, key)
	v.vals = append(v.vals, val)
}

func (v *txView) flush() {
	for i, k := range v.keys {
		v.parent.Writes[k] = v.vals[i]
	}
}

// run is the context of one executing tx. Accounts are decoded once per tx
// and encoded once at its end.
type run struct {
	cfg    *Config
	env    *Env
	p      *Prepared
	v      *txView
	events []chain.Event
	accs   []cachedAccount
}

type cachedAccount struct {
	addr  common.Address
	acc   *state.Account
	dirty bool
}

func (r *run) emit(typ string, kv ...string) {
	e := chain.Event{Type: typ}
	for i := 0; i+1 < len(kv); i += 2 {
		e.Attrs = append(e.Attrs, chain.Attr{Key: kv[i], Value: kv[i+1]})
	}
	r.events = append(r.events, e)
}

func (r *run) account(a common.Address) (*state.Account, error) {
	for i := range r.accs {
		if r.accs[i].addr == a {
			return r.accs[i].acc, nil
		}
	}
	b := r.v.get(state.AccountKey(a))
	var acc *state.Account
	if b == nil {
		acc = state.NewAccount()
	} else {
		acc = new(state.Account)
		if err := state.Decode(b, acc); err != nil {
			return nil, fmt.Errorf("decode account %s: %w", a, err)
		}
	}
	r.accs = append(r.accs, cachedAccount{addr: a, acc: acc})
	return acc, nil
}

// putAccount marks a's account (as returned by account) changed.
func (r *run) putAccount(a common.Address, acc *state.Account) {
	for i := range r.accs {
		if r.accs[i].addr == a {
			r.accs[i].acc, r.accs[i].dirty = acc, true
			return
		}
	}
	r.accs = append(r.accs, cachedAccount{addr: a, acc: acc, dirty: true})
}

// flushAccounts encodes the changed accounts into the view.
func (r *run) flushAccounts() {
	for _, c := range r.accs {
		if c.dirty {
			r.v.put(state.AccountKey(c.addr), state.Encode(c.acc))
		}
	}
}

func copyAccount(a *state.Account) *state.Account {
	return &state.Account{Nonce: a.Nonce, Balance: new(big.Int).Set(a.Balance),
		Staked: new(big.Int).Set(a.Staked), Bonded: new(big.Int).Set(a.Bonded)}
}

func (r *run) load(key string, v any, missing error) error {
	b := r.v.get(key)
	if b == nil {
		return missing
	}
	if err := state.Decode(b, v); err != nil {
		return fmt.Errorf("decode %q: %w", key, err)
	}
	return nil
}

func (r *run) idao(name string) (*idao.IDAO, error) {
	d := new(idao.IDAO)
	if err := r.load(state.IDAOKey(name), d, fmt.Errorf("%w: %q", ErrUnknownIDAO, name)); err != nil {
		return nil, err
	}
	return d, nil
}

// ApplyTx runs one prepared tx on o and returns its receipt and its fee
// (for the proposer). An invalid tx (bad signature or encoding, wrong chain,
// wrong nonce, fee not covered) changes nothing and is returned with the
// reason as invalid: it must never be in a block (the sequencer drops it,
// a follower refuses a block that holds one). A tx that fails in its body
// pays its fee, uses its nonce and changes nothing else.
func ApplyTx(cfg *Config, env *Env, o *Overlay, p *Prepared) (rc *chain.Receipt, fee *big.Int, invalid error) {
	rc = &chain.Receipt{TxHash: p.Hash, Index: uint32(p.Index), Kind: p.Tx.Kind.String(), Sender: p.Sender, Fee: new(big.Int), Events: []chain.Event{}}
	fail := func(err error) (*chain.Receipt, *big.Int, error) {
		rc.Status, rc.Error = chain.StatusFailed, err.Error()
		return rc, new(big.Int), err
	}
	if p.Err != nil {
		return fail(p.Err)
	}
	v := &txView{parent: o, allowed: p.Access}
	r := &run{cfg: cfg, env: env, p: p, v: v}
	acc, err := r.account(p.Sender)
	if err != nil {
		return fail(err)
	}
	if p.Tx.Nonce != acc.Nonce {
		return fail(fmt.Errorf("%w: tx %d, account %d", ErrNonce, p.Tx.Nonce, acc.Nonce))
	}
	fee = p.Fee
	if acc.Balance.Cmp(fee) < 0 {
		return fail(fmt.Errorf("%w for the fee: have %s, need %s", ErrInsufficientFunds, acc.Balance, fee))
	}
	acc.Nonce++
	acc.Balance.Sub(acc.Balance, fee)
	rc.Fee, rc.GasUsed = fee, Gas(p.Tx.Kind, p.Body, len(p.Tx.Body))

	// The body runs on a copy; a failed body leaves only fee and nonce.
	r.accs = []cachedAccount{{addr: p.Sender, acc: copyAccount(acc), dirty: true}}
	err = r.dispatch()
	if err == nil {
		r.flushAccounts()
		err = v.bad
	}
	if err != nil {
		rc.Status, rc.Error = chain.StatusFailed, err.Error()
		failed := &txView{parent: o, allowed: p.Access}
		failed.put(state.AccountKey(p.Sender), state.Encode(acc))
		failed.flush()
		return rc, fee, nil
	}
	v.flush()
	rc.Status, rc.Events = chain.StatusSuccess, r.events
	if rc.Events == nil {
		rc.Events = []chain.Event{}
	}
	return rc, fee, nil
}

func (r *run) dispatch() error {
	switch b := r.p.Body.(type) {
	case *tx.Transfer:
		return r.transfer(b)
	case *tx.IDAOCreate:
		return r.idaoCreate(b)
	case *tx.IDAOJoin:
		return r.idaoJoin(b)
	case *tx.IDAOLeave:
		return r.idaoLeave(b)
	case *tx.IDAOWithdraw:
		return r.idaoWithdraw(b)
	case *tx.IDAOSetPolicy:
		return r.idaoSetPolicy(b)
	case *tx.EnclaveRegister:
		return r.enclaveRegister(b)
	case *tx.VKRegister:
		return r.vkRegister(b)
	case *tx.Anchor:
		return r.anchor(b, &r.p.Anchors[0])
	case *tx.AnchorBatch:
		return r.anchorBatch(b)
	case *tx.DATMint:
		return r.datMint(b, 0)
	case *tx.DATBuy:
		return r.datBuy(b)
	case *tx.DATRedeem:
		return r.datRedeem(b)
	case *tx.DATTransfer:
		return r.datTransfer(b)
	case *tx.DATClaim:
		return r.datClaim(b)
	case *tx.BondLock:
		return r.bondLock(b)
	case *tx.BondRelease:
		return r.bondRelease(b)
	case *tx.BondSlash:
		return r.bondSlash(b)
	case *tx.SlashEquivocation:
		return r.slashEquivocation(b)
	case *tx.OptClaim:
		return r.optClaim(b)
	case *tx.OptChallenge:
		return r.optChallenge(b)
	case *tx.OptMove:
		return r.optMove(b)
	case *tx.OptStep:
		return r.optStep(b)
	case *tx.OptTimeout:
		return r.optTimeout(b)
	case *tx.OptCancel:
		return r.optCancel(b)
	case *tx.OptFinalize:
		return r.optFinalize(b)
	}
	return tx.ErrUnknownKind
}

// hx is lower-case 0x hex (no EIP-55 checksum: it costs two keccaks).
func hx(v interface{ Bytes() []byte }) string {
	raw := v.Bytes()
	b := make([]byte, 2+2*len(raw))
	b[0], b[1] = '0', 'x'
	for i, c := range raw {
		b[2+2*i] = hexdigits[c>>4]
		b[3+2*i] = hexdigits[c&15]
	}
	return string(b)
}

const hexdigits = "0123456789abcdef"

func positive(x *big.Int) bool { return x != nil && x.Sign() > 0 }

// debit takes amount from a's balance.
func (r *run) debit(a common.Address, amount *big.Int, what string) (*state.Account, error) {
	acc, err := r.account(a)
	if err != nil {
		return nil, err
	}
	if acc.Balance.Cmp(amount) < 0 {
		return nil, fmt.Errorf("%w to %s: have %s, need %s", ErrInsufficientFunds, what, acc.Balance, amount)
	}
	acc.Balance.Sub(acc.Balance, amount)
	return acc, nil
}

func (r *run) credit(a common.Address, amount *big.Int) error {
	if amount.Sign() == 0 {
		return nil
	}
	acc, err := r.account(a)
	if err != nil {
		return err
	}
	acc.Balance.Add(acc.Balance, amount)
	r.putAccount(a, acc)
	return nil
}

func (r *run) transfer(b *tx.Transfer) error {
	if b.Amount == nil || b.Amount.Sign() < 0 {
		return ErrBadAmount
	}
	from, err := r.debit(r.p.Sender, b.Amount, "transfer")
	if err != nil {
		return err
	}
	r.putAccount(r.p.Sender, from)
	if err := r.credit(b.To, b.Amount); err != nil {
		return err
	}
	r.emit("transfer", "from", hx(r.p.Sender), "to", hx(b.To), "amount", b.Amount.String())
	return nil
}

func (r *run) stakeMove(a common.Address, balanceDelta, stakedDelta *big.Int) error {
	acc, err := r.account(a)
	if err != nil {
		return err
	}
	nb := new(big.Int).Add(acc.Balance, balanceDelta)
	if nb.Sign() < 0 {
		return fmt.Errorf("%w to stake: have %s, need %s", ErrInsufficientFunds, acc.Balance, new(big.Int).Neg(balanceDelta))
	}
	acc.Balance = nb
	acc.Staked = new(big.Int).Add(acc.Staked, stakedDelta)
	r.putAccount(a, acc)
	return nil
}

func (r *run) putIDAO(d *idao.IDAO) { r.v.put(state.IDAOKey(d.Name), state.Encode(d)) }

func (r *run) idaoCreate(b *tx.IDAOCreate) error {
	if r.v.get(state.IDAOKey(b.Name)) != nil {
		return fmt.Errorf("%w: %q", ErrIDAOExists, b.Name)
	}
	stake := b.Stake
	if stake == nil {
		stake = new(big.Int)
	}
	d, err := idao.New(b.Name, r.p.Sender, b.Policy, stake, r.env.Now(), r.env.Height, r.cfg.StakingParams())
	if err != nil {
		return err
	}
	if stake.Sign() > 0 {
		if err := r.stakeMove(r.p.Sender, new(big.Int).Neg(stake), stake); err != nil {
			return err
		}
	}
	r.putIDAO(d)
	r.emit("idao_created", "name", b.Name, "owner", hx(r.p.Sender), "stake", stake.String())
	return nil
}

func (r *run) idaoJoin(b *tx.IDAOJoin) error {
	d, err := r.idao(b.Name)
	if err != nil {
		return err
	}
	if !positive(b.Amount) {
		return idao.ErrZeroStake
	}
	if err := d.Join(r.p.Sender, b.Amount, r.env.Height, r.cfg.StakingParams()); err != nil {
		return err
	}
	if err := r.stakeMove(r.p.Sender, new(big.Int).Neg(b.Amount), b.Amount); err != nil {
		return err
	}
	r.putIDAO(d)
	r.emit("idao_joined", "name", b.Name, "member", hx(r.p.Sender), "amount", b.Amount.String())
	return nil
}

func (r *run) idaoLeave(b *tx.IDAOLeave) error {
	d, err := r.idao(b.Name)
	if err != nil {
		return err
	}
	if err := d.Leave(r.p.Sender, b.Amount, r.env.Now(), r.env.Height, r.cfg.StakingParams()); err != nil {
		return err
	}
	r.putIDAO(d)
	m := d.Member(r.p.Sender)
	r.emit("idao_unstaking", "name", b.Name, "member", hx(r.p.Sender), "amount", b.Amount.String(),
		"release_at", strconv.FormatUint(m.ReleaseAt, 10))
	return nil
}

func (r *run) idaoWithdraw(b *tx.IDAOWithdraw) error {
	d, err := r.idao(b.Name)
	if err != nil {
		return err
	}
	amt, err := d.Withdraw(r.p.Sender, r.env.Now())
	if err != nil {
		return err
	}
	if err := r.stakeMove(r.p.Sender, amt, new(big.Int).Neg(amt)); err != nil {
		return err
	}
	r.putIDAO(d)
	r.emit("idao_withdrawn", "name", b.Name, "member", hx(r.p.Sender), "amount", amt.String())
	return nil
}

func (r *run) idaoSetPolicy(b *tx.IDAOSetPolicy) error {
	d, err := r.idao(b.Name)
	if err != nil {
		return err
	}
	if err := d.SetPolicy(r.p.Sender, b.Policy, r.cfg.StakingParams()); err != nil {
		return err
	}
	r.putIDAO(d)
	r.emit("idao_policy", "name", b.Name)
	return nil
}

func (r *run) enclaveRegister(b *tx.EnclaveRegister) error {
	d, err := r.idao(b.IDAO)
	if err != nil {
		return err
	}
	key := state.EnclaveKey(b.IDAO, b.PubKey)
	if r.v.get(key) != nil {
		return ErrAlreadyRegistered
	}
	if r.cfg.Enclave == nil {
		return fmt.Errorf("%w: this chain has no enclave verifier configured", ErrEnclaveRefused)
	}
	if err := r.cfg.Enclave.VerifyEnclaveKey(b.IDAO, d.Policy.TEEPolicy, b.PubKey, b.Report); err != nil {
		return fmt.Errorf("%w: %v", ErrEnclaveRefused, err)
	}
	r.v.put(key, state.Encode(&state.Enclave{IDAO: b.IDAO, PubKey: b.PubKey, Report: b.Report, Height: r.env.Height}))
	r.emit("enclave_registered", "idao", b.IDAO, "pubkey", common.Bytes2Hex(b.PubKey))
	return nil
}

func (r *run) vkRegister(b *tx.VKRegister) error {
	d, err := r.idao(b.IDAO)
	if err != nil {
		return err
	}
	if d.Owner != r.p.Sender {
		return idao.ErrNotOwner
	}
	key := state.VKKey(b.VKHash)
	if r.v.get(key) != nil {
		return ErrAlreadyRegistered
	}
	r.v.put(key, state.Encode(&state.VK{IDAO: b.IDAO, Circuit: b.Circuit, Hash: b.VKHash, Height: r.env.Height}))
	r.emit("vk_registered", "idao", b.IDAO, "vk_hash", hx(b.VKHash), "circuit", b.Circuit)
	return nil
}

// BatchProof converts a tx's vote batch proof (nil: the vote is signed alone).
func BatchProof(p *tx.VoteBatchProof) *quorum.BatchProof {
	if p == nil {
		return nil
	}
	return &quorum.BatchProof{Root: p.Root, Size: p.Size, Index: p.Index, Path: p.Path}
}

// TxBatchProof is BatchProof's inverse.
func TxBatchProof(p *quorum.BatchProof) *tx.VoteBatchProof {
	if p == nil {
		return nil
	}
	return &tx.VoteBatchProof{Root: p.Root, Size: p.Size, Index: p.Index, Path: p.Path}
}

// AnchorQC rebuilds the QC an anchor tx carries.
func AnchorQC(b *tx.Anchor) *quorum.QC {
	q := &quorum.QC{IDAO: b.IDAO, Submission: b.Submission, ResultDigest: b.ResultDigest}
	for _, v := range b.Votes {
		q.Votes = append(q.Votes, quorum.Vote{IDAO: b.IDAO, Submission: b.Submission, ResultDigest: b.ResultDigest,
			Approve: true, Member: v.Member, Signature: v.Sig, Batch: BatchProof(v.Batch)})
	}
	return q
}

// anchorBatch applies each item on its own: an item that cannot apply is
// skipped with an event naming why.
func (r *run) anchorBatch(b *tx.AnchorBatch) error {
	if len(b.Items) == 0 || len(b.Items) > tx.MaxAnchorBatch {
		return fmt.Errorf("%w: an anchor batch holds 1 to %d items, got %d", ErrMismatch, tx.MaxAnchorBatch, len(b.Items))
	}
	for i := range b.Items {
		it := &b.Items[i]
		if it.Mint.Digest != it.Anchor.ResultDigest || it.Mint.IDAO != it.Anchor.IDAO {
			r.emit("anchor_skipped", "digest", hx(it.Anchor.ResultDigest), "reason", "the mint is for another digest or iDAO")
			continue
		}
		if err := r.anchor(&it.Anchor, &r.p.Anchors[i]); err != nil {
			r.emit("anchor_skipped", "digest", hx(it.Anchor.ResultDigest), "reason", err.Error())
			continue
		}
		if err := r.datMint(&it.Mint, uint64(i)); err != nil {
			r.emit("mint_skipped", "digest", hx(it.Mint.Digest), "reason", err.Error())
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
	q := AnchorQC(b)
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

func (r *run) bondLock(b *tx.BondLock) error {
	if !positive(b.Amount) {
		return ErrBadAmount
	}
	if r.v.get(state.UserBondKey(b.ID)) != nil {
		return ErrBondExists
	}
	acc, err := r.debit(r.p.Sender, b.Amount, "bond")
	if err != nil {
		return err
	}
	acc.Bonded = new(big.Int).Add(acc.Bonded, b.Amount)
	r.putAccount(r.p.Sender, acc)
	r.v.put(state.UserBondKey(b.ID), state.Encode(&state.Bond{ID: b.ID, Owner: r.p.Sender, Amount: b.Amount,
		Arbiter: b.Arbiter, Purpose: b.Purpose, Height: r.env.Height}))
	r.emit("bond_locked", "id", hx(b.ID), "owner", hx(r.p.Sender), "amount", b.Amount.String(), "arbiter", hx(b.Arbiter))
	return nil
}

// bond loads a user bond for its arbiter.
func (r *run) bond(id common.Hash, owner common.Address) (*state.Bond, error) {
	bd := new(state.Bond)
	if err := r.load(state.UserBondKey(id), bd, fmt.Errorf("%w: %s", ErrUnknownBond, id)); err != nil {
		return nil, err
	}
	if bd.Arbiter != r.p.Sender {
		return nil, ErrNotArbiter
	}
	if bd.Owner != owner {
		return nil, fmt.Errorf("%w: bond owner is %s", ErrMismatch, bd.Owner)
	}
	return bd, nil
}

func (r *run) unbond(owner common.Address, amount, give *big.Int) error {
	acc, err := r.account(owner)
	if err != nil {
		return err
	}
	acc.Bonded = new(big.Int).Sub(acc.Bonded, amount)
	acc.Balance = new(big.Int).Add(acc.Balance, give)
	r.putAccount(owner, acc)
	return nil
}

func (r *run) bondRelease(b *tx.BondRelease) error {
	bd, err := r.bond(b.ID, b.Owner)
	if err != nil {
		return err
	}
	if err := r.unbond(bd.Owner, bd.Amount, bd.Amount); err != nil {
		return err
	}
	r.v.put(state.UserBondKey(b.ID), nil)
	r.emit("bond_released", "id", hx(b.ID), "owner", hx(bd.Owner), "amount", bd.Amount.String())
	return nil
}

func (r *run) burn(amount *big.Int) {
	cur := new(big.Int).SetBytes(r.v.get(state.BurnedKey))
	cur.Add(cur, amount)
	r.v.put(state.BurnedKey, cur.Bytes())
}

func (r *run) bondSlash(b *tx.BondSlash) error {
	bd, err := r.bond(b.ID, b.Owner)
	if err != nil {
		return err
	}
	win := b.WinnerAmount
	if win == nil {
		win = new(big.Int)
	}
	if win.Cmp(bd.Amount) > 0 {
		return fmt.Errorf("%w: winner share %s above bond %s", ErrBadAmount, win, bd.Amount)
	}
	if err := r.unbond(bd.Owner, bd.Amount, new(big.Int)); err != nil {
		return err
	}
	if err := r.credit(b.Winner, win); err != nil {
		return err
	}
	burned := new(big.Int).Sub(bd.Amount, win)
	r.burn(burned)
	r.v.put(state.UserBondKey(b.ID), nil)
	r.emit("bond_slashed", "id", hx(b.ID), "owner", hx(bd.Owner), "winner", hx(b.Winner),
		"to_winner", win.String(), "burned", burned.String())
	return nil
}

// slashEquivocation slashes a member that signed two digests for one
// submission, once: the (member, submission) pair is recorded, so the same
// proof cannot slash the member again after it re-stakes.
func (r *run) slashEquivocation(b *tx.SlashEquivocation) error {
	va := quorum.Vote{IDAO: b.IDAO, Submission: b.A.Submission, ResultDigest: b.A.ResultDigest, Approve: true, Signature: b.A.Sig}
	vb := quorum.Vote{IDAO: b.IDAO, Submission: b.B.Submission, ResultDigest: b.B.ResultDigest, Approve: true, Signature: b.B.Sig}
	if va.Submission != vb.Submission || va.ResultDigest == vb.ResultDigest {
		return quorum.ErrNotEquivocal
	}
	if r.p.Signers[0] != b.Member || r.p.Signers[1] != b.Member {
		return fmt.Errorf("%w: votes not both signed by %s", quorum.ErrNotEquivocal, b.Member)
	}
	slashed := state.SlashedKey(b.Member, va.Submission)
	if r.v.get(slashed) != nil {
		return fmt.Errorf("%w: %s on %s", idao.ErrAlreadySlashed, b.Member.Hex(), va.Submission.Hex())
	}
	d, err := r.idao(b.IDAO)
	if err != nil {
		return err
	}
	m := d.Member(b.Member)
	if m == nil {
		return idao.ErrNotMember
	}
	all := new(big.Int).Add(m.Stake, m.Pending)
	taken, err := d.Slash(b.Member, all, r.env.Height, r.cfg.StakingParams())
	if err != nil {
		return err
	}
	if taken.Sign() == 0 {
		return fmt.Errorf("%w: member has no stake left", ErrBadAmount)
	}
	// The prover's share is the optimistic policy's (default 50%, the
	// floor of half as before); the rest is burned.
	reward, _ := optimistic.Split(taken, r.optParams().EquivocationShareBps)
	macc, err := r.account(b.Member)
	if err != nil {
		return err
	}
	macc.Staked = new(big.Int).Sub(macc.Staked, taken)
	r.putAccount(b.Member, macc)
	if err := r.credit(r.p.Sender, reward); err != nil {
		return err
	}
	r.burn(new(big.Int).Sub(taken, reward))
	r.putIDAO(d)
	r.v.put(slashed, []byte{1})
	r.emit("member_slashed", "idao", b.IDAO, "member", hx(b.Member), "slashed", taken.String(), "reward", reward.String())
	return nil
}
