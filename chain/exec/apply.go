package exec

import (
	"fmt"
	"math/big"
	"strconv"

	"github.com/vsc-labs/vsc/chain"
	"github.com/vsc-labs/vsc/chain/state"
	"github.com/vsc-labs/vsc/chain/tx"
	"github.com/vsc-labs/vsc/internal/codes"
)

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

func (r *run) emit(typ string, kv ...string) *chain.Event {
	e := chain.Event{Type: typ}
	for i := 0; i+1 < len(kv); i += 2 {
		e.Attrs = append(e.Attrs, chain.Attr{Key: kv[i], Value: kv[i+1]})
	}
	r.events = append(r.events, e)
	return &r.events[len(r.events)-1]
}

// skip records that an item of a batch was skipped because of err: the
// event names the item and err's code; err's words are its Detail.
func (r *run) skip(typ string, kv []string, err error) {
	e := r.emit(typ, append(kv, "code", strconv.FormatUint(uint64(CodeOf(err)), 10))...)
	e.Detail = err.Error()
}

// load decodes the value at key into v; missing is the error of an absent
// key.
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

// ApplyTx runs one prepared tx on o and returns its receipt and its fee
// (for the proposer). An invalid tx (bad signature or encoding, wrong chain,
// wrong nonce, fee not covered) changes nothing and is returned with the
// reason as invalid: it must never be in a block (the sequencer drops it,
// a follower refuses a block that holds one). A tx that fails in its body
// pays its fee, uses its nonce and changes nothing else. A failed receipt
// carries the failure's code (CodeOf) and, as its non-consensus Detail,
// the error's words.
func ApplyTx(cfg *Config, env *Env, o *Overlay, p *Prepared) (rc *chain.Receipt, fee *big.Int, invalid error) {
	rc = &chain.Receipt{TxHash: p.Hash, Index: uint32(p.Index), Kind: p.Tx.Kind, Sender: p.Sender, Fee: new(big.Int), Events: []chain.Event{}}
	fail := func(err error) (*chain.Receipt, *big.Int, error) {
		rc.Status, rc.Code, rc.Detail = chain.StatusFailed, CodeOf(err), err.Error()
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
		c := codes.NonceGap
		if p.Tx.Nonce < acc.Nonce {
			c = codes.NonceReplayed
		}
		return fail(coded(c, fmt.Errorf("%w: tx %d, account %d", ErrNonce, p.Tx.Nonce, acc.Nonce)))
	}
	fee = p.Fee
	if acc.Balance.Cmp(fee) < 0 {
		return fail(coded(codes.InsufficientBalance, fmt.Errorf("%w for the fee: have %s, need %s", ErrInsufficientFunds, acc.Balance, fee)))
	}
	acc.Nonce++
	acc.Balance.Sub(acc.Balance, fee)
	rc.Fee, rc.GasUsed = fee, tx.Gas(p.Body, len(p.Tx.Body))

	// The body runs on a copy; a failed body leaves only fee and nonce.
	r.accs = []cachedAccount{{addr: p.Sender, acc: copyAccount(acc), dirty: true}}
	err = r.dispatch()
	if err == nil {
		r.flushAccounts()
		err = v.bad
	}
	if err != nil {
		rc.Status, rc.Code, rc.Detail = chain.StatusFailed, CodeOf(err), err.Error()
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

// dispatch runs the tx's body: its kind's apply.
func (r *run) dispatch() error {
	k, ok := ruleOf(r.p.Body)
	if !ok {
		return tx.ErrUnknownKind
	}
	return k.apply(r, r.p.Body)
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
