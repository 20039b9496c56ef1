package exec_test

import (
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/chain"
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

// BenchmarkSettle: a block of settlements of tx.MaxSettleBatch jobs each
// (one enclave signature per batch), signatures recovered (Prepare) and
// executed with 2 lanes, as the sequencer does; it reports jobs/s.
func BenchmarkSettle(b *testing.B) {
	t := &testing.T{}
	w := newSvcWorld(t)
	tok := w.buy(svcApp, 100_000, 100_000)
	const txs = 16
	var block []*tx.Tx
	n := uint64(0)
	for range txs {
		var items []tx.SettleItem
		for range tx.MaxSettleBatch {
			n++
			items = append(items, w.job(svcApp, tok, 1, n, w.enclave))
		}
		body := w.settleBody(items...)
		t, err := tx.New(chainID, w.nonces[w.addrs[svcProvider]], big.NewInt(1_000_000), body)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := t.Sign(w.keys[svcProvider]); err != nil {
			b.Fatal(err)
		}
		w.nonces[w.addrs[svcProvider]]++
		block = append(block, t)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, t := range block {
			t.ForgetSender()
		}
		out := exec.Run(w.cfg, w.env(), w.st, block, 2)
		if out.Receipts[0].Status != chain.StatusSuccess || skipped(out.Receipts[0]) != 0 || len(out.Receipts) != txs {
			b.Fatalf("settle: %s", out.Receipts[0].Message())
		}
	}
	b.ReportMetric(float64(b.N*txs*tx.MaxSettleBatch)/b.Elapsed().Seconds(), "jobs/s")
}
