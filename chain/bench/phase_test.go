package bench

import (
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/vsc-labs/vsc/chain"
	"github.com/vsc-labs/vsc/chain/exec"
	"github.com/vsc-labs/vsc/chain/node"
	"github.com/vsc-labs/vsc/chain/state"
	"github.com/vsc-labs/vsc/chain/tx"
	"math/big"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// TestPhases prints the CPU cost per tx of each phase of a block (set
// VSC_CHAIN_PHASES=1); it is a diagnostic, not an assertion.
func TestPhases(t *testing.T) {
	if os.Getenv("VSC_CHAIN_PHASES") == "" {
		t.Skip("set VSC_CHAIN_PHASES=1 to print per-phase CPU costs")
	}
	const N = 5000
	keys := make([]common.Address, N)
	var txs []*tx.Tx
	g := &chain.Genesis{ChainID: 1, GasPrice: "1", Alloc: map[common.Address]string{}}
	for i := 0; i < N; i++ {
		k := keyFor(9, i)
		keys[i] = crypto.PubkeyToAddress(k.PublicKey)
		g.Alloc[keys[i]] = "100000000"
		tt, _ := tx.New(1, 0, big.NewInt(100), &tx.Transfer{To: common.BigToAddress(big.NewInt(int64(i + 1000000))), Amount: big.NewInt(5)})
		tt.Sign(k)
		tt, _ = tx.Decode(tt.Encode())
		txs = append(txs, tt)
	}
	_, ws := node.GenesisBlock(g)
	st := state.New()
	st.Commit(st.Stage(ws, 2))
	cfg := &exec.Config{ChainID: 1, GasPrice: big.NewInt(1)}
	for _, lanes := range []int{1, 2} {
		runtime.GOMAXPROCS(lanes)
		for _, t := range txs {
			t.ForgetSender()
		}
		t0 := cpu()
		ps := exec.PrepareAll(cfg, txs, lanes)
		t1 := cpu()
		res := exec.ExecuteLanes(cfg, &exec.Env{Height: 1}, st.Unlocked(), ps, lanes)
		t2 := cpu()
		sg := st.Stage(res.Writes, lanes)
		t3 := cpu()
		hs := make([]common.Hash, len(txs))
		for i, t := range txs {
			hs[i] = t.Hash()
		}
		chain.MerkleRoot(hs)
		rh := make([]common.Hash, len(txs))
		for i, r := range res.Receipts {
			rh[i] = chain.ReceiptHash(r)
		}
		t4 := cpu()
		_ = sg
		t.Logf("lanes %d: prepare %v (%.1fus/tx) exec %v (%.1fus/tx) stage %v (%.1fus/tx) roots %v (%.1fus/tx)", lanes,
			t1.Sub(t0), us(t1.Sub(t0), N), t2.Sub(t1), us(t2.Sub(t1), N), t3.Sub(t2), us(t3.Sub(t2), N), t4.Sub(t3), us(t4.Sub(t3), N))
	}
	runtime.GOMAXPROCS(2)
}

func us(d time.Duration, n int) float64 { return float64(d.Microseconds()) / float64(n) }

func cpu() time.Time {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Unix(0, ru.Utime.Nano()+ru.Stime.Nano())
}
