// Package bench is the chain's load generator, shared by `vscd bench chain`
// and the Go benchmarks: it signs N transfers up front (not timed), then
// times a real node sealing them into blocks — signature recovery, lane
// scheduling and execution, state root, tx and receipt roots, header
// signature and the fsync'd bbolt commit all included.
package bench

import (
	"context"
	"crypto/ecdsa"
	"encoding/binary"
	"fmt"
	"math/big"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/chain"
	"github.com/vsc-labs/vsc/chain/node"
	"github.com/vsc-labs/vsc/chain/tx"
)

// Params of a run.
type Params struct {
	Txs       int
	Lanes     int
	Conflict  float64 // fraction of txs that pay one hot account
	Seed      uint64
	BlockSize int // default 5000
	Senders   int // default min(Txs, 10000)
	// Procs is GOMAXPROCS during the timed part; 0 = min(Lanes, NumCPU),
	// so lanes=1 is a true single-core baseline.
	Procs int
	// GCPercent sets debug.SetGCPercent while timing (0: leave it).
	GCPercent int
	DirFor    func() (string, error) // data dir; default a temp dir removed after
	// Follow runs a verifying follower of the sequencer (over loopback
	// HTTP, FollowLanes lanes) and samples its lag after every block.
	Follow      bool
	FollowLanes int
	// Rate paces the sealing at this many txs a second (0: as fast as it
	// goes), as a sequencer under that load would seal.
	Rate float64
}

// Result is `vscd bench chain --json` (CONTRACT.md keys first).
type Result struct {
	Txs       int     `json:"txs"`
	Lanes     int     `json:"lanes"`
	Conflict  float64 `json:"conflict"`
	Seconds   float64 `json:"seconds"`
	TPS       float64 `json:"tps"`
	StateRoot string  `json:"state_root"`
	Blocks    int     `json:"blocks"`
	BlockSize int     `json:"block_size"`
	Procs     int     `json:"procs"`
	GCPercent int     `json:"gc_percent,omitempty"`
	Succeeded int     `json:"succeeded"`
	// CPUSeconds is the process's user+system CPU time while timing, so a
	// loaded machine can be told apart from slow code: TxPerCPUSecond is
	// what one fully available core would do.
	CPUSeconds     float64 `json:"cpu_seconds"`
	TxPerCPUSecond float64 `json:"tx_per_cpu_second"`
	// RecoverBoundTPS is signature recovery alone, measured just before on
	// a sample with the same workers: the ceiling for tps on this machine
	// at this moment. FractionOfBound = tps / that ceiling.
	RecoverBoundTPS float64 `json:"recover_bound_tps"`
	FractionOfBound float64 `json:"fraction_of_bound"`
	SignSecond      float64 `json:"sign_seconds"`
	*FollowResult   `json:",omitempty"`
}

func keyFor(seed uint64, i int) *ecdsa.PrivateKey {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], seed)
	binary.BigEndian.PutUint64(b[8:], uint64(i))
	k, err := crypto.ToECDSA(crypto.Keccak256(b[:], []byte("vsc-bench")))
	if err != nil {
		panic(err)
	}
	return k
}

// Run executes the benchmark.
func Run(ctx context.Context, p Params) (*Result, error) {
	if p.Txs <= 0 {
		return nil, fmt.Errorf("bench: --txs must be positive")
	}
	p = p.withDefaults()
	keys, g, seqKey := genesis(p)
	signStart := time.Now()
	txs, err := signWorkload(p, g.ChainID, keys)
	if err != nil {
		return nil, err
	}
	signSecs := time.Since(signStart).Seconds()

	dir, cleanup, err := dataDir(p)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	clockMS := g.Time
	n, err := node.New(node.Config{DataDir: dir, Genesis: g, SequencerKey: seqKey, Lanes: p.Lanes, BlockSize: p.BlockSize,
		Clock: func() time.Time { clockMS += 250; return time.UnixMilli(int64(clockMS)) }})
	if err != nil {
		return nil, err
	}
	defer n.Close()

	runtime.GC()
	if p.GCPercent > 0 {
		defer debug.SetGCPercent(debug.SetGCPercent(p.GCPercent))
	}
	prev := runtime.GOMAXPROCS(p.Procs)
	defer runtime.GOMAXPROCS(prev)
	res := &Result{Txs: p.Txs, Lanes: p.Lanes, Conflict: p.Conflict, BlockSize: p.BlockSize, Procs: p.Procs, GCPercent: p.GCPercent, SignSecond: signSecs}
	res.RecoverBoundTPS = recoverBound(txs, p.Lanes)
	var f *node.Node
	if p.Follow {
		var stop func()
		if f, stop, err = startFollower(g, n, p.FollowLanes); err != nil {
			return nil, err
		}
		defer stop()
		res.FollowResult = &FollowResult{OfferedTPS: p.Rate, FollowerLane: p.FollowLanes}
	}
	cpu0 := cpuTime()
	start := time.Now()
	if err := seal(ctx, n, f, txs, p, res); err != nil {
		return nil, err
	}
	elapsed := time.Since(start)
	if f != nil {
		if err := catchUp(ctx, f, n, res.FollowResult); err != nil {
			return nil, err
		}
	}
	res.CPUSeconds = (cpuTime() - cpu0).Seconds()
	res.TxPerCPUSecond = float64(p.Txs) / res.CPUSeconds
	res.Seconds = elapsed.Seconds()
	res.TPS = float64(p.Txs) / res.Seconds
	res.FractionOfBound = res.TPS / res.RecoverBoundTPS
	res.StateRoot = n.Head().StateRoot.Hex()
	if res.Succeeded != p.Txs {
		return res, fmt.Errorf("bench: only %d of %d txs succeeded", res.Succeeded, p.Txs)
	}
	return res, nil
}

// withDefaults fills the zero fields of p.
func (p Params) withDefaults() Params {
	if p.Lanes <= 0 {
		p.Lanes = 1
	}
	if p.BlockSize <= 0 {
		p.BlockSize = 5000
	}
	if p.Senders <= 0 {
		p.Senders = min(p.Txs, 10000)
	}
	if p.Procs <= 0 {
		p.Procs = min(p.Lanes, runtime.NumCPU())
	}
	if p.FollowLanes <= 0 {
		p.FollowLanes = p.Lanes
	}
	return p
}

// genesis makes the senders' keys, a genesis funding them and the
// sequencer's key.
func genesis(p Params) ([]*ecdsa.PrivateKey, *chain.Genesis, *ecdsa.PrivateKey) {
	keys := make([]*ecdsa.PrivateKey, p.Senders)
	addrs := make([]common.Address, p.Senders)
	parallel(p.Senders, runtime.NumCPU(), func(i int) {
		keys[i] = keyFor(p.Seed, i)
		addrs[i] = crypto.PubkeyToAddress(keys[i].PublicKey)
	})
	seqKey := keyFor(p.Seed, -1)
	g := &chain.Genesis{ChainID: 1337, Time: 1_700_000_000_000, Sequencer: crypto.PubkeyToAddress(seqKey.PublicKey),
		GasPrice: "1", Alloc: make(map[common.Address]string, p.Senders)}
	for _, a := range addrs {
		g.Alloc[a] = "1000000000000"
	}
	return keys, g, seqKey
}

// signWorkload signs the txs (not timed): tx i from sender i mod Senders
// (nonce i / Senders) to a fresh address, or, with probability Conflict,
// to one hot account; each decoded as if received off the wire, its sender
// not yet known.
func signWorkload(p Params, chainID uint64, keys []*ecdsa.PrivateKey) ([]*tx.Tx, error) {
	rng := rand.New(rand.NewPCG(p.Seed, 0xc0ffee))
	hot := common.HexToAddress("0x00000000000000000000000000000000000000ff")
	tos := make([]common.Address, p.Txs)
	amounts := make([]int64, p.Txs)
	for i := range tos {
		if rng.Float64() < p.Conflict {
			tos[i] = hot
		} else {
			binary.BigEndian.PutUint64(tos[i][12:], rng.Uint64())
			tos[i][0] = 0xb
		}
		amounts[i] = 1 + rng.Int64N(1000)
	}
	txs := make([]*tx.Tx, p.Txs)
	var signErr error
	var mu sync.Mutex
	parallel(p.Txs, runtime.NumCPU(), func(i int) {
		s := i % p.Senders
		t, err := tx.New(chainID, uint64(i/p.Senders), big.NewInt(100), &tx.Transfer{To: tos[i], Amount: big.NewInt(amounts[i])})
		if err == nil {
			_, err = t.Sign(keys[s])
		}
		if err == nil {
			t, err = tx.Decode(t.Encode())
		}
		if err != nil {
			mu.Lock()
			signErr = err
			mu.Unlock()
			return
		}
		txs[i] = t
	})
	return txs, signErr
}

// recoverBound is signature recovery alone on a sample of txs with lanes
// workers, in txs per second (the senders are forgotten again after).
func recoverBound(txs []*tx.Tx, lanes int) float64 {
	sample := txs[:min(len(txs), 5000)]
	t0 := time.Now()
	parallel(len(sample), lanes, func(i int) { _, _ = sample[i].Sender() })
	bound := float64(len(sample)) / time.Since(t0).Seconds()
	for _, t := range sample {
		t.ForgetSender()
	}
	return bound
}

// seal seals txs into blocks of p.BlockSize on n (the timed part),
// counting blocks and successful receipts into res. Like a sequencer
// recovering senders at the door while it seals the previous block, it
// recovers block k+1 while block k is sealed.
func seal(ctx context.Context, n, f *node.Node, txs []*tx.Tx, p Params, res *Result) error {
	block := func(k int) []*tx.Tx {
		lo := k * p.BlockSize
		if lo >= len(txs) {
			return nil
		}
		return txs[lo:min(lo+p.BlockSize, len(txs))]
	}
	prefetch := func(ts []*tx.Tx) chan struct{} {
		done := make(chan struct{})
		go func() {
			defer close(done)
			parallel(len(ts), p.Lanes, func(i int) { _, _ = ts[i].Sender() })
		}()
		return done
	}
	ready := prefetch(block(0))
	defer func() { <-ready }()
	var lags []uint64
	if f != nil {
		defer func() { lagStats(lags, res.FollowResult) }()
	}
	start := time.Now()
	for k := 0; block(k) != nil; k++ {
		<-ready
		ready = prefetch(block(k + 1))
		pace(start, k, p.BlockSize, p.Rate)
		if f != nil { // the follower's lag as this block is sealed
			lags = append(lags, n.Head().Height-min(f.Head().Height, n.Head().Height))
		}
		_, rs, err := n.SealTxs(ctx, block(k))
		if err != nil {
			return err
		}
		for _, r := range rs {
			if r.Status == chain.StatusSuccess {
				res.Succeeded++
			}
		}
		res.Blocks++
	}
	return nil
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func dataDir(p Params) (string, func(), error) {
	if p.DirFor != nil {
		d, err := p.DirFor()
		return d, func() {}, err
	}
	d, err := os.MkdirTemp("", "vsc-bench-chain-")
	if err != nil {
		return "", nil, err
	}
	return d, func() { os.RemoveAll(d) }, nil
}

func parallel(n, workers int, f func(i int)) {
	if n == 0 {
		return
	}
	var wg sync.WaitGroup
	chunk := (n + workers - 1) / workers
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := lo; i < hi; i++ {
				f(i)
			}
		}()
	}
	wg.Wait()
}
