package bench

import (
	"context"
	"testing"
)

// TestFollowerKeepsUp: with --follow the run's follower re-executes every
// block (with another lane count) to the sequencer's state root and the
// lag figures are reported.
func TestFollowerKeepsUp(t *testing.T) {
	t.Parallel()
	r, err := Run(context.Background(), Params{Txs: 600, Lanes: 2, Conflict: 0.3, Seed: 5, BlockSize: 100, Senders: 150,
		Follow: true, FollowLanes: 3, Rate: 6000})
	if err != nil {
		t.Fatal(err)
	}
	if r.FollowResult == nil || r.FollowResult.StateRoot != r.StateRoot {
		t.Fatalf("follower %+v, sequencer root %s", r.FollowResult, r.StateRoot)
	}
	if r.Blocks != 6 || r.FollowResult.MaxLag > uint64(r.Blocks) {
		t.Fatalf("%d blocks, max lag %d", r.Blocks, r.FollowResult.MaxLag)
	}
}
