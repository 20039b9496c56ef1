package exec_test

import (
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/chain/exec"
	"github.com/vsc-labs/vsc/chain/tx"
)

// BenchmarkExecuteTransfers: execution only (senders pre-recovered) of a
// block of independent transfers, sequential lane.
func BenchmarkExecuteTransfers(b *testing.B) {
	w := newWorld(&testing.T{}, 200)
	var txs []*tx.Tx
	for i := 0; i < 200; i++ {
		txs = append(txs, w.sign(i, &tx.Transfer{To: common.BigToAddress(big.NewInt(int64(1e6 + i))), Amount: big.NewInt(3)}))
	}
	ps := exec.PrepareAll(w.cfg, txs, 1)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		exec.ExecuteLanes(w.cfg, w.env(), w.st.Unlocked(), ps, 1)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(txs)), "ns/tx")
}
