package main

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vsc-labs/vsc/chain/node"
)

// chainMetrics registers a chain node's gauges in reg: its height and
// mempool, and for a follower its lag behind the sequencer and whether it
// halted.
func chainMetrics(reg prometheus.Registerer, n *node.Node) {
	g := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
	}
	reg.MustRegister(
		g("vsc_chain_height", "Height of the last block this node committed (a follower: verified).", func() float64 { return float64(n.Head().Height) }),
		g("vsc_chain_mempool_txs", "Txs waiting in the mempool (0 on a follower, which forwards them).", func() float64 { return float64(n.MempoolSize()) }),
	)
	if n.FollowStatus() == nil {
		return
	}
	reg.MustRegister(
		g("vsc_follower_lag_blocks", "Blocks this follower is behind its sequencer's head as last seen.", func() float64 { return float64(n.FollowStatus().Lag) }),
		g("vsc_follower_sequencer_height", "The sequencer's head height as this follower last saw it.", func() float64 { return float64(n.FollowStatus().SequencerHeight) }),
		g("vsc_follower_halted", "1 once this follower halted on a block that does not check.", func() float64 {
			if n.FollowStatus().Halted != "" {
				return 1
			}
			return 0
		}),
	)
}
