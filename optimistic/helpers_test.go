package optimistic

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/internal/records"
	"github.com/vsc-labs/vsc/tee/facts"
)

var (
	execAddr = common.HexToAddress("0x00000000000000000000000000000000000000e1")
	chalAddr = common.HexToAddress("0x00000000000000000000000000000000000000c1")
	subID    = crypto.Keccak256Hash([]byte("submission"))
)

// testParams are small numbers for fast games.
func testParams() Params {
	return Params{Window: 10, Clock: 8, MinClaimBond: big.NewInt(1000), MinChallengeBond: big.NewInt(500),
		WinnerShareBps: 5000, EquivocationShareBps: 5000}
}

// randDataset has n records of f fields; about dupRate of them repeat an
// earlier record, and some values fall outside the valid range.
func randDataset(rng *rand.Rand, n, f int, dupRate float64) *records.Dataset {
	ds := &records.Dataset{}
	for i := range f {
		ds.Fields = append(ds.Fields, fmt.Sprintf("f%d", i))
	}
	for i := range n {
		if i > 0 && rng.Float64() < dupRate {
			ds.Records = append(ds.Records, slices.Clone(ds.Records[rng.IntN(i)]))
			continue
		}
		rec := make([]int64, f)
		for j := range rec {
			rec[j] = rng.Int64N(1000) - 500
			if rng.IntN(50) == 0 {
				rec[j] = 1 << 60 // invalid under the default params
			}
		}
		ds.Records = append(ds.Records, rec)
	}
	return ds
}

func honest(t testing.TB, ds *records.Dataset) *Computation {
	t.Helper()
	k, err := Compute(ds, ds.Fields, facts.DefaultParams)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// liar returns a computation over the same data with another trace.
func liar(k *Computation, hashes []common.Hash) *Computation {
	l := *k
	l.Trace = NewTrace(hashes)
	return &l
}

// Lies a dishonest party can tell. Each changes the final state.
const (
	lieRecord  = iota // computes over one altered record
	lieDup            // flips the duplicate hint of one record
	lieGarbage        // random hashes from some index on
	lieFinal          // only the final state is wrong
	nLies
)

func lieTrace(rng *rand.Rand, k *Computation, kind int) []common.Hash {
	n := int(k.Trace.N())
	h := slices.Clone(k.Trace.Hashes)
	at := 1 + rng.IntN(n) // first wrong state
	switch kind {
	case lieRecord, lieDup:
		s := k.start.Clone()
		for i := range n {
			rec, dup := k.DS.Records[i], k.dups[i]
			if i+1 == at {
				if kind == lieRecord {
					rec = slices.Clone(rec)
					rec[0]++
				} else {
					dup = !dup
				}
			}
			if err := s.Apply(rec, dup); err != nil {
				panic(err)
			}
			h[i+1] = s.Digest()
		}
	case lieGarbage:
		for i := at; i <= n; i++ {
			h[i] = common.Hash(crypto.Keccak256Hash([]byte{byte(rng.Uint32())}, h[i][:]))
		}
	case lieFinal:
		h[n] = crypto.Keccak256Hash(h[n][:])
	}
	return h
}

// world is an in-memory referee: one claim, its games, balances.
type world struct {
	t      testing.TB
	c      *Claim
	games  map[common.Hash]*Game
	order  []common.Hash
	height uint64
	bal    map[common.Address]*big.Int
	burned *big.Int
	total  *big.Int
}

func newWorld(t testing.TB, accounts ...common.Address) *world {
	w := &world{t: t, games: map[common.Hash]*Game{}, height: 100, bal: map[common.Address]*big.Int{},
		burned: new(big.Int), total: new(big.Int)}
	for _, a := range accounts {
		w.bal[a] = big.NewInt(1_000_000)
		w.total.Add(w.total, w.bal[a])
	}
	return w
}

func (w *world) debit(a common.Address, amt *big.Int) {
	if w.bal[a].Cmp(amt) < 0 {
		w.t.Fatalf("%s cannot pay %s", a, amt)
	}
	w.bal[a].Sub(w.bal[a], amt)
}

func (w *world) claim(k *Computation, bond int64) {
	w.t.Helper()
	r := k.ClaimRequest(subID, k.DS.Fields, facts.DefaultParams, big.NewInt(bond))
	c, err := NewClaim(execAddr, r, w.height, testParams())
	if err != nil {
		w.t.Fatal(err)
	}
	w.debit(execAddr, c.Bond)
	w.c = c
}

// post applies an action; on success bonds move and settlements pay out.
func (w *world) post(sender common.Address, a Action) error {
	var g *Game
	if a.Kind != ActChallenge && a.Kind != ActFinalize {
		g = w.games[a.Game]
	}
	c, g2, st, err := Apply(w.c, g, sender, &a, w.height)
	if err != nil {
		return err
	}
	if a.Kind == ActChallenge {
		if _, ok := w.games[g2.ID]; ok {
			return fmt.Errorf("game exists")
		}
		w.debit(sender, g2.Bond)
		w.order = append(w.order, g2.ID)
	}
	w.c = c
	if g2 != nil {
		w.games[g2.ID] = g2
	}
	if st != nil {
		if st.Total().Cmp(st.ReleasedTotal()) != 0 {
			w.t.Fatalf("%s settles %s but releases %s", a.Kind, st.Total(), st.ReleasedTotal())
		}
		for _, p := range st.Payouts {
			w.bal[p.To].Add(w.bal[p.To], p.Amount)
		}
		w.burned.Add(w.burned, st.Burned)
	}
	return nil
}

// conserved checks every unit is in a balance, burned, or in a live bond.
func (w *world) conserved() {
	w.t.Helper()
	sum := new(big.Int).Set(w.burned)
	for _, b := range w.bal {
		sum.Add(sum, b)
	}
	if w.c != nil && w.c.Open() { // an overturned claim's bond was settled by the deciding game
		sum.Add(sum, w.c.Bond)
	}
	for _, g := range w.games {
		if g.Active() {
			sum.Add(sum, g.Bond)
		}
	}
	if sum.Cmp(w.total) != 0 {
		w.t.Fatalf("amounts not conserved: %s accounted, %s in total", sum, w.total)
	}
}

// party plays one side with a computation; offline parties stop acting at
// height offlineAt (0 = never).
type party struct {
	addr      common.Address
	side      Side
	k         *Computation
	offlineAt uint64
	honest    bool // its posts must never be refused
	strip     bool // posts step proofs without their duplicate witness
}

// run plays every party until the claim and all games are decided (or
// maxHeights pass), finalizing when possible.
func (w *world) run(rng *rand.Rand, parties []party, maxHeights int) {
	w.t.Helper()
	for range maxHeights {
		idx := rng.Perm(len(parties))
		for _, i := range idx {
			p := parties[i]
			if p.offlineAt != 0 && w.height >= p.offlineAt {
				continue
			}
			for _, id := range w.order {
				g := w.games[id]
				if p.side == Challenger && g.Challenger != p.addr {
					continue
				}
				a, err := p.k.Next(w.c, g, p.side, w.height)
				if err != nil {
					w.t.Fatalf("%s next: %v", p.side, err)
				}
				if a.Kind == ActNone {
					continue
				}
				if p.strip && a.Step != nil {
					s := *a.Step
					s.Dup, s.DupPath, s.DupIndex = false, nil, 0
					a.Step = &s
				}
				if err := w.post(p.addr, a); err != nil && p.honest {
					w.t.Fatalf("honest %s's %s refused at height %d: %v", p.side, a.Kind, w.height, err)
				}
			}
		}
		// anyone may time out an expired game or cancel one of an overturned claim
		for _, id := range w.order {
			if g := w.games[id]; g.Active() && (g.Expired(w.height) || w.c.Status == StatusOverturned) {
				kind := ActTimeout
				if w.c.Status == StatusOverturned {
					kind = ActCancel
				}
				if err := w.post(common.Address{0xaa}, Action{Kind: kind, Game: id}); err != nil {
					w.t.Fatalf("%s: %v", kind, err)
				}
			}
		}
		if w.c.Open() && w.height >= w.c.WindowEnd && w.c.ActiveGames == 0 {
			if err := w.post(execAddr, Action{Kind: ActFinalize, ClaimID: w.c.ID}); err != nil {
				w.t.Fatalf("finalize: %v", err)
			}
		}
		w.conserved()
		if !w.c.Open() && w.c.ActiveGames == 0 {
			return
		}
		w.height++
	}
	for _, g := range w.games {
		w.t.Logf("game %+v", g)
	}
	w.t.Fatalf("not decided after %d heights: claim %s, %d active games", maxHeights, w.c.Status, w.c.ActiveGames)
}
