package bus

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Vote requests fan out to every member of an iDAO, so they do not use the
// work-queue streams: VSC_VOTES keeps them (limits retention, a day) and each
// member reads them with its own durable consumer.
const (
	VotesStream   = "VSC_VOTES"
	votesPrefix   = "vsc.votes.request."
	VoteKind      = "vote"
	voteRetention = 24 * time.Hour
)

// EnsureVotes creates the vote-request stream.
func (b *Bus) EnsureVotes(ctx context.Context) error {
	_, err := b.JS.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: VotesStream, Subjects: []string{votesPrefix + ">"}, Retention: jetstream.LimitsPolicy,
		Storage: jetstream.FileStorage, MaxAge: voteRetention, Duplicates: 10 * time.Minute, Replicas: b.cfg.Replicas,
	})
	if err != nil {
		return fmt.Errorf("stream %s: %w", VotesStream, err)
	}
	return nil
}

// PublishVoteRequest publishes a vote request (JSON) for an iDAO, deduped by msgID.
func (b *Bus) PublishVoteRequest(ctx context.Context, idao, msgID string, data []byte) error {
	if _, err := b.JS.Publish(ctx, votesPrefix+idao, data, jetstream.WithMsgID(msgID)); err != nil {
		return fmt.Errorf("publish vote request %s: %w", msgID, err)
	}
	return nil
}

// VoteRequests delivers every vote-request message of the iDAOs (nil: all)
// to one member (durable consumer named after the member) until ctx ends, in
// batches of up to max messages, so the member answers them with one signed
// vote batch. h returning an error redelivers the batch with back-off.
func (b *Bus) VoteRequests(ctx context.Context, member string, idaos []string, max int, h func(ctx context.Context, msgs [][]byte) error) error {
	if err := b.EnsureVotes(ctx); err != nil {
		return err
	}
	filters := []string{votesPrefix + ">"} // no list: every iDAO (Decide skips those it is not a member of)
	if len(idaos) > 0 {
		filters = filters[:0]
		for _, d := range idaos {
			filters = append(filters, votesPrefix+d)
		}
	}
	cc := jetstream.ConsumerConfig{
		Durable:        "member-" + strings.ToLower(member),
		FilterSubjects: filters,
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        b.cfg.AckWait,
		MaxDeliver:     -1,
		MaxAckPending:  4 * max,
	}
	if len(filters) == 1 { // older servers know only the single filter
		cc.FilterSubject, cc.FilterSubjects = filters[0], nil
	}
	cons, err := b.JS.CreateOrUpdateConsumer(ctx, VotesStream, cc)
	if err != nil {
		return fmt.Errorf("vote-request consumer for %s: %w", member, err)
	}
	return b.batches(ctx, cons, 2, max, b.cfg.BatchLinger, func(ctx context.Context, msgs []jetstream.Msg) ([]jetstream.Msg, error) {
		data := make([][]byte, len(msgs))
		for i, m := range msgs {
			data[i] = m.Data()
		}
		return msgs, h(ctx, data)
	})
}
