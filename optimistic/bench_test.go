package optimistic

import (
	"math/big"
	"math/rand/v2"
	"slices"
	"testing"
)

// BenchmarkCheckStep is the chain's single-step check at its most
// expensive: 16 fields and a duplicate witness (two Merkle paths of depth 32).
func BenchmarkCheckStep(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	ds := randDataset(rng, 1000, 16, 0)
	ds.Records[900] = slices.Clone(ds.Records[100])
	k := honest(b, ds)
	p, err := k.StepProof(901)
	if err != nil || !p.Dup {
		b.Fatal(err)
	}
	agreed := k.Trace.Hashes[900]
	b.ResetTimer()
	for b.Loop() {
		if _, err := CheckStep(k.Commitment, 1000, 901, agreed, p); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDispute1M plays a whole dispute over a 1,000,000-record dataset
// (a liar executor against the honest challenger) through the referee: the
// challenge, every bisection move and the step, each checked as the chain
// checks it. Building the two computations is set-up, not timed.
func BenchmarkDispute1M(b *testing.B) {
	const n = 1_000_000
	rng := rand.New(rand.NewPCG(2, 2))
	ds := randDataset(rng, n, 2, 0.01)
	k := honest(b, ds)
	bad := liar(k, lieTrace(rng, k, lieRecord))
	b.ResetTimer()
	var moves uint32
	for b.Loop() {
		w := newWorld(b, execAddr, chalAddr)
		w.claim(bad, 1000)
		r, err := k.ChallengeRequest(w.c, big.NewInt(500))
		if err != nil {
			b.Fatal(err)
		}
		if err := w.post(chalAddr, Action{Kind: ActChallenge, Challenge: r}); err != nil {
			b.Fatal(err)
		}
		id := GameID(w.c.ID, chalAddr)
		w.run(rng, []party{
			{addr: execAddr, side: Executor, k: bad},
			{addr: chalAddr, side: Challenger, k: k, honest: true},
		}, 200)
		g := w.games[id]
		if g.Status != GameChallengerWon || g.Moves > 20 {
			b.Fatalf("game %s after %d moves", g.Status, g.Moves)
		}
		moves = g.Moves
	}
	b.ReportMetric(float64(moves), "moves")
}
