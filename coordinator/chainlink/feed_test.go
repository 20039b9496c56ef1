package chainlink_test

import (
	"context"
	"slices"
	"testing"

	"github.com/vsc-labs/vsc/coordinator/chainlink"
	"github.com/vsc-labs/vsc/coordinator/client"
	srvpkg "github.com/vsc-labs/vsc/coordinator/server"
	"github.com/vsc-labs/vsc/coordinator/server/servertest"
)

// The event stream's block feed reads the same head and the same block
// summary in process (Local) and over the chain API (Remote).
func TestFeedLocalAndRemoteAgree(t *testing.T) {
	t.Parallel()
	f := servertest.NewWithChain(t, srvpkg.Config{})
	ctx := context.Background()
	local := &chainlink.Local{Chain: f.Chain}
	remote := &chainlink.Remote{Client: client.New(f.HTTP.URL)}
	head, err := local.HeadHeight(ctx)
	if err != nil || head < 2 {
		t.Fatalf("local head %d (%v): the fixture's iDAO txs are in blocks 1 and 2 at least", head, err)
	}
	if h, err := remote.HeadHeight(ctx); err != nil || h < head {
		t.Fatalf("remote head %d (%v), local %d", h, err, head)
	}
	var sawCreate bool
	for h := uint64(1); h <= head; h++ {
		a, err := local.BlockEvent(ctx, h)
		if err != nil {
			t.Fatal(err)
		}
		b, err := remote.BlockEvent(ctx, h)
		if err != nil {
			t.Fatal(err)
		}
		if a.Height != h || a.Hash != b.Hash || a.Txs != b.Txs || a.Time != b.Time || !slices.Equal(a.Kinds, b.Kinds) {
			t.Fatalf("block %d: local %+v, remote %+v", h, a, b)
		}
		sawCreate = sawCreate || slices.Contains(a.Kinds, "idao_create")
	}
	if !sawCreate {
		t.Fatal("no block names the fixture's idao_create")
	}
	if _, err := local.BlockEvent(ctx, head+1000); err == nil {
		t.Fatal("a block past the head was summarized")
	}
}
