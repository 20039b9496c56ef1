package chainlink

import (
	"context"
	"slices"
	"strconv"

	"github.com/vsc-labs/vsc/coordinator"
)

// HeadHeight is the chain's head height (the event stream's block feed).
func (l *Local) HeadHeight(context.Context) (uint64, error) { return l.Chain.Head().Height, nil }

// BlockEvent summarizes block height for the event stream.
func (l *Local) BlockEvent(_ context.Context, height uint64) (coordinator.BlockEvent, error) {
	b, err := l.Chain.Block(height)
	if err != nil {
		return coordinator.BlockEvent{}, err
	}
	kinds := make([]string, 0, len(b.Txs))
	for _, t := range b.Txs {
		kinds = append(kinds, t.Kind.String())
	}
	return coordinator.BlockEvent{Height: height, Hash: b.Header.Hash(), Time: b.Header.Time, Txs: b.Header.TxCount, Kinds: distinct(kinds)}, nil
}

// HeadHeight is the chain's head height, read over HTTP.
func (r *Remote) HeadHeight(ctx context.Context) (uint64, error) {
	h, err := r.Client.ChainHead(ctx)
	if err != nil {
		return 0, err
	}
	return h.Height, nil
}

// BlockEvent summarizes block height, read over HTTP.
func (r *Remote) BlockEvent(ctx context.Context, height uint64) (coordinator.BlockEvent, error) {
	b, err := r.Client.ChainBlock(ctx, strconv.FormatUint(height, 10))
	if err != nil {
		return coordinator.BlockEvent{}, err
	}
	kinds := make([]string, 0, len(b.Txs))
	for _, t := range b.Txs {
		kinds = append(kinds, t.Kind)
	}
	return coordinator.BlockEvent{Height: height, Hash: b.Header.Hash, Time: b.Header.Time, Txs: b.Header.TxCount, Kinds: distinct(kinds)}, nil
}

func distinct(s []string) []string {
	slices.Sort(s)
	return slices.Compact(s)
}
