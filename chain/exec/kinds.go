package exec

import (
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/chain/lanes"
	"github.com/vsc-labs/vsc/chain/tx"
)

// kind is what chain/exec knows of one tx kind whose body is B. Every kind
// has access and apply; prepare and moves are optional.
type kind[B tx.Body] struct {
	// access declares the state keys the tx reads and writes, besides its
	// sender's account (always written: nonce and fee).
	access func(a *accessList, b B)
	// prepare recovers the signatures the body carries besides the
	// sender's (votes, contributors) into p, where Prepare runs them in
	// parallel; apply reads them from p.
	prepare func(cfg *Config, p *Prepared, b B)
	// moves is what the body takes from the sender's balance besides the
	// fee, where the body says it (the door checks the sender can pay it).
	moves func(b B) *big.Int
	// apply runs the body on r; an error fails the tx, leaving only its fee
	// and nonce.
	apply func(r *run, b B) error
}

// rule is a kind's entry with its body type erased, as the table holds it.
type rule struct {
	access  func(a *accessList, b tx.Body)
	prepare func(cfg *Config, p *Prepared, b tx.Body)
	moves   func(b tx.Body) *big.Int
	apply   func(r *run, b tx.Body) error
}

// rule erases k's body type. A body of another type (which decoding by
// kind never makes) declares nothing and fails as an unknown kind.
func (k kind[B]) rule() rule {
	r := rule{
		access: func(a *accessList, b tx.Body) {
			if bb, ok := b.(B); ok {
				k.access(a, bb)
			}
		},
		apply: func(r *run, b tx.Body) error {
			bb, ok := b.(B)
			if !ok {
				return fmt.Errorf("%w: a %T body", tx.ErrUnknownKind, b)
			}
			return k.apply(r, bb)
		},
	}
	if k.prepare != nil {
		r.prepare = func(cfg *Config, p *Prepared, b tx.Body) {
			if bb, ok := b.(B); ok {
				k.prepare(cfg, p, bb)
			}
		}
	}
	if k.moves != nil {
		r.moves = func(b tx.Body) *big.Int {
			if bb, ok := b.(B); ok {
				return k.moves(bb)
			}
			return nil
		}
	}
	return r
}

// rules is every kind's entry, gathered from the files of their concerns.
// A kind listed twice is a programming error caught at start-up (and by
// TestKindsTable, which also checks every tx.Kind has a complete entry).
var rules = gather(accountRules, idaoRules, anchorRules, datRules, bondRules, optimisticRules, serviceRules)

func gather(lists ...map[tx.Kind]rule) map[tx.Kind]rule {
	all := map[tx.Kind]rule{}
	for _, l := range lists {
		for k, r := range l {
			if _, dup := all[k]; dup {
				panic(fmt.Sprintf("exec: tx kind %s has two entries", k))
			}
			all[k] = r
		}
	}
	return all
}

// ruleOf is the entry of b's kind (ok false for a body of no kind).
func ruleOf(b tx.Body) (rule, bool) {
	if b == nil {
		return rule{}, false
	}
	r, ok := rules[b.Kind()]
	return r, ok
}

// accessList collects a tx's declared accesses; sender and hash are the
// tx's, for kinds whose keys derive from them (new tokens, games).
type accessList struct {
	sender common.Address
	hash   common.Hash
	acc    []lanes.Access
}

func (a *accessList) read(keys ...string) {
	for _, k := range keys {
		a.acc = append(a.acc, lanes.Access{Key: k})
	}
}

func (a *accessList) write(keys ...string) {
	for _, k := range keys {
		a.acc = append(a.acc, lanes.Access{Key: k, Write: true})
	}
}

// Moved is what a tx body takes from its sender's balance besides the fee,
// where the body says it (transfers, stakes, bonds); other kinds, and a
// negative or missing amount, count 0.
func Moved(b tx.Body) *big.Int {
	r, ok := ruleOf(b)
	if !ok || r.moves == nil {
		return new(big.Int)
	}
	x := r.moves(b)
	if x == nil || x.Sign() < 0 {
		return new(big.Int)
	}
	return new(big.Int).Set(x)
}
