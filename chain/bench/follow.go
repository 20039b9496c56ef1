package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"time"

	"github.com/vsc-labs/vsc/chain"
	"github.com/vsc-labs/vsc/chain/node"
)

// FollowResult is what a run with a follower adds: how many blocks the
// follower was behind the sequencer, sampled after each sealed block, and
// how long it took to catch up once the sequencer stopped.
type FollowResult struct {
	MaxLag       uint64  `json:"follower_max_lag_blocks"`
	P99Lag       uint64  `json:"follower_p99_lag_blocks"`
	CatchUpMS    float64 `json:"follower_catch_up_ms"`
	StateRoot    string  `json:"follower_state_root"`
	OfferedTPS   float64 `json:"offered_tps,omitempty"`
	FollowerLane int     `json:"follower_lanes"`
}

// follower serves the sequencer n's API on loopback and starts a
// verifying follower of it in its own data dir.
func startFollower(g *chain.Genesis, n *node.Node, lanes int) (*node.Node, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	srv := &http.Server{Handler: n.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	dir, err := os.MkdirTemp("", "vsc-bench-follower-")
	if err != nil {
		srv.Close()
		return nil, nil, err
	}
	f, err := node.New(node.Config{DataDir: dir, Genesis: g, Lanes: lanes,
		Follow: &node.Follow{URL: "http://" + ln.Addr().String(), Poll: 5 * time.Millisecond}})
	if err == nil {
		err = f.Start(context.Background())
	}
	stop := func() {
		if f != nil {
			f.Close()
		}
		srv.Close()
		os.RemoveAll(dir)
	}
	if err != nil {
		stop()
		return nil, nil, err
	}
	return f, stop, nil
}

// pace waits until block k (0-based) may be sealed at rate txs a second.
func pace(start time.Time, k, blockSize int, rate float64) {
	if rate <= 0 {
		return
	}
	due := start.Add(time.Duration(float64(k*blockSize) / rate * float64(time.Second)))
	time.Sleep(time.Until(due))
}

// lagStats summarises the lag samples.
func lagStats(samples []uint64, res *FollowResult) {
	if len(samples) == 0 {
		return
	}
	slices.Sort(samples)
	res.MaxLag = samples[len(samples)-1]
	res.P99Lag = samples[min(len(samples)-1, len(samples)*99/100)]
}

// catchUp waits until f is at n's head and records how long it took.
func catchUp(ctx context.Context, f, n *node.Node, res *FollowResult) error {
	start := time.Now()
	for f.Head().Hash() != n.Head().Hash() {
		if err := f.Err(); err != nil {
			return fmt.Errorf("bench: follower halted: %w", err)
		}
		if time.Since(start) > 5*time.Minute {
			return errors.New("bench: the follower did not catch up within 5 minutes")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
	res.CatchUpMS = float64(time.Since(start).Microseconds()) / 1000
	res.StateRoot = f.Head().StateRoot.Hex()
	return nil
}
