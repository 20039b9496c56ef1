package bus

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/nats-io/nats.go/jetstream"
)

// Vote requests fan out to every member of an iDAO, so they do not use the
// work-queue streams: VSC_VOTES keeps them (limits retention, a day) and each
// member reads them with its own durable consumer, which it creates itself
// (its NATS user may create that one consumer and no other).
const (
	VotesStream   = "VSC_VOTES"
	votesPrefix   = "vsc.votes.request."
	voteRetention = 24 * time.Hour
)

// MemberConsumer is the name of a member's durable vote-request consumer.
func MemberConsumer(member common.Address) string { return "member-" + strings.ToLower(member.Hex()) }

// PublishVoteRequest publishes a vote request (JSON) for an iDAO, deduped by msgID.
func (b *Bus) PublishVoteRequest(ctx context.Context, idao, msgID string, data []byte) error {
	if _, err := b.publish(ctx, votesPrefix+idao, data, jetstream.WithMsgID(msgID)); err != nil {
		return fmt.Errorf("publish vote request %s: %w", msgID, err)
	}
	return nil
}

// VoteRequests delivers every vote-request message of the iDAOs (nil: all)
// to one member (its durable consumer) until ctx ends, in batches of up to
// max messages, so the member answers them with one signed vote batch. h
// returns one error per message, and each is settled on its own: nil acks
// it, work.ErrPermanent terminates it, any other error (the member could not
// check the evidence) redelivers it with back-off, up to VoteMaxDeliver
// deliveries.
func (b *Bus) VoteRequests(ctx context.Context, member common.Address, idaos []string, max int, h func(ctx context.Context, msgs [][]byte) []error) error {
	err := b.waitFor(ctx, "the vote-request stream", func() error { _, err := b.stream(ctx, VotesStream); return err })
	if err != nil {
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
		Durable:        MemberConsumer(member),
		FilterSubjects: filters,
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        b.cfg.AckWait,
		MaxDeliver:     VoteMaxDeliver,
		MaxAckPending:  4 * max,
		Replicas:       b.cfg.Replicas,
	}
	if len(filters) == 1 { // older servers know only the single filter
		cc.FilterSubject, cc.FilterSubjects = filters[0], nil
	}
	cons, err := b.JS.CreateOrUpdateConsumer(ctx, VotesStream, cc)
	if err != nil {
		return b.explain(fmt.Errorf("vote-request consumer for %s: %w", member.Hex(), err))
	}
	return b.batches(ctx, cons, 2, max, b.cfg.BatchLinger, VoteMaxDeliver, nil, func(ctx context.Context, msgs []jetstream.Msg) []error {
		data := make([][]byte, len(msgs))
		for i, m := range msgs {
			data[i] = m.Data()
		}
		return h(ctx, data)
	})
}
