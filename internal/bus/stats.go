package bus

import (
	"context"
	"fmt"
)

// StreamStat is one stream's depth: messages waiting in it.
type StreamStat struct {
	Stream string
	Msgs   uint64
	Bytes  uint64
}

// ConsumerStat is one durable consumer's position: messages it has not
// been given yet (its lag), given but not acked, and redelivered.
type ConsumerStat struct {
	Stream, Consumer string
	Pending          uint64
	AckPending       int
	Redelivered      int
}

// QueueStats reads the depth of vsc's work streams and the lag of their
// consumers (for the coordinator's /metrics).
func (b *Bus) QueueStats(ctx context.Context) ([]StreamStat, []ConsumerStat, error) {
	var streams []StreamStat
	var consumers []ConsumerStat
	for _, name := range []string{JobsStream, ResultsStream, VotesStream} {
		st, err := b.JS.Stream(ctx, name)
		if err != nil {
			return streams, consumers, fmt.Errorf("stream %s: %w", name, err)
		}
		info, err := st.Info(ctx)
		if err != nil {
			return streams, consumers, fmt.Errorf("stream %s: %w", name, err)
		}
		streams = append(streams, StreamStat{Stream: name, Msgs: info.State.Msgs, Bytes: info.State.Bytes})
		list := st.ListConsumers(ctx)
		for ci := range list.Info() {
			consumers = append(consumers, ConsumerStat{Stream: name, Consumer: ci.Name, Pending: ci.NumPending,
				AckPending: ci.NumAckPending, Redelivered: ci.NumRedelivered})
		}
		if err := list.Err(); err != nil {
			return streams, consumers, fmt.Errorf("consumers of %s: %w", name, err)
		}
	}
	return streams, consumers, nil
}
