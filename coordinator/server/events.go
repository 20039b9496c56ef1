package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vsc-labs/vsc/coordinator"
	"github.com/vsc-labs/vsc/internal/codes"
)

// EventTopics are the topics of GET /v1/events: submissions (every status
// move), blocks (every new block), dats (a class minted), claims (a block
// holding optimistic claims, challenges or moves) and jobs (a data-service
// job's move made by this coordinator: JobEvent).
var EventTopics = []string{"submissions", "blocks", "dats", "claims", "jobs"}

// ChainFeed is where the event stream reads the chain: its head height and
// a summary of a block.
type ChainFeed interface {
	HeadHeight(ctx context.Context) (uint64, error)
	BlockEvent(ctx context.Context, height uint64) (coordinator.BlockEvent, error)
}

const (
	// movesWindow is how far behind its last seq the feed reads again, for
	// moves that committed after a later one (they are sent once).
	movesWindow = 512
	// movesPerPoll bounds the moves read per poll.
	movesPerPoll = 1000
	// blocksPerPoll bounds the blocks announced per poll (a feed far
	// behind skips to the head).
	blocksPerPoll = 64
)

type event struct {
	topic, id string
	seq       int64 // a status move's seq (0: not a move)
	data      []byte
}

type subscriber struct {
	since  int64 // moves up to this seq were made before the stream opened
	topics map[string]bool
	ch     chan event
	lagged bool // set (under the hub's lock) when ch was closed for falling behind
}

// hub fans events out to a bounded set of subscribers. A subscriber that
// falls EventBuffer events behind is dropped; closing the hub ends every
// stream.
type hub struct {
	mu   sync.Mutex
	subs map[*subscriber]struct{}
	done chan struct{}
	once sync.Once
}

func newHub() *hub { return &hub{subs: map[*subscriber]struct{}{}, done: make(chan struct{})} }

func (h *hub) subscribe(topics []string, since int64) (*subscriber, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.subs) >= coordinator.MaxEventSubscribers {
		return nil, codes.New(codes.EventsFull, "the event stream serves at most %d subscribers (max_event_subscribers) and has as many: retry later", coordinator.MaxEventSubscribers)
	}
	s := &subscriber{since: since, topics: map[string]bool{}, ch: make(chan event, coordinator.EventBuffer)}
	for _, t := range topics {
		s.topics[t] = true
	}
	h.subs[s] = struct{}{}
	return s, nil
}

func (h *hub) unsubscribe(s *subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.subs[s]; ok {
		delete(h.subs, s)
		close(s.ch)
	}
}

func (h *hub) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

// publish queues e for every subscriber of its topic, never blocking.
func (h *hub) publish(e event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		if !s.topics[e.topic] || e.seq != 0 && e.seq <= s.since {
			continue
		}
		select {
		case s.ch <- e:
		default:
			s.lagged = true
			delete(h.subs, s)
			close(s.ch)
		}
	}
}

func (h *hub) close() { h.once.Do(func() { close(h.done) }) }

// Publish sends v (as JSON) on topic to the event stream's subscribers;
// id is the event's id (what a client names to say where it was).
func (s *Server) Publish(topic, id string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		s.log.Error("event not sent", "topic", topic, "err", err)
		return
	}
	s.hub.publish(event{topic: topic, id: id, data: b})
}

// parseTopics reads ?topic= (repeated or comma-separated; none: all).
func parseTopics(q []string) ([]string, error) {
	var out []string
	for _, v := range q {
		for _, t := range strings.Split(v, ",") {
			if t = strings.TrimSpace(t); t == "" || slices.Contains(out, t) {
				continue
			}
			if !slices.Contains(EventTopics, t) {
				return nil, codes.New(codes.UnknownTopic, "%q is not an event topic: use one or more of %s", clip(t, 32), strings.Join(EventTopics, ", "))
			}
			out = append(out, t)
		}
	}
	if len(out) > coordinator.MaxEventTopics {
		return nil, codes.New(codes.InvalidField, "at most %d topics per stream (max_event_topics)", coordinator.MaxEventTopics)
	}
	if len(out) == 0 {
		out = EventTopics
	}
	return out, nil
}

// events is GET /v1/events: Server-Sent Events of the topics asked for,
// a comment line every EventHeartbeatSeconds, until the client leaves, it
// falls EventBuffer events behind ("lagged"), or the server stops
// ("shutdown").
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	topics, err := parseTopics(r.URL.Query()["topic"])
	if err != nil {
		writeErr(w, err)
		return
	}
	since, err := s.store.LastMoveSeq(r.Context())
	if err != nil {
		writeErr(w, codes.New(codes.Unavailable, "the event stream cannot read the store: %v", err))
		return
	}
	sub, err := s.hub.subscribe(topics, since)
	if err != nil {
		writeErr(w, err)
		return
	}
	defer s.hub.unsubscribe(sub)
	rc := http.NewResponseController(w)
	beat := time.Duration(coordinator.EventHeartbeatSeconds) * time.Second
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	send := func(format string, args ...any) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(2 * beat))
		if _, err := fmt.Fprintf(w, format, args...); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !send("retry: 2000\n: topics %s\n\n", strings.Join(topics, ",")) {
		return
	}
	tick := time.NewTicker(beat)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.hub.done:
			send("event: shutdown\ndata: {}\n\n")
			return
		case e, ok := <-sub.ch:
			if !ok {
				send("event: lagged\ndata: {}\n\n")
				return
			}
			if !send("event: %s\nid: %s\ndata: %s\n\n", e.topic, e.id, e.data) {
				return
			}
		case <-tick.C:
			if !send(": ping\n\n") {
				return
			}
		}
	}
}

// feedEvents tails the store's status moves and the chain's head into the
// event stream, every EventPoll, until ctx ends.
func (s *Server) feedEvents(ctx context.Context, f *feed) {
	t := time.NewTicker(s.cfg.EventPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if s.hub.count() == 0 && f.skipToNow(ctx) {
			continue
		}
		if err := f.moves(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("event feed: reading status moves", "err", err)
		}
		if err := f.blocks(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("event feed: reading the chain", "err", err)
		}
	}
}

// newFeed starts the event feed at the store's newest move and the chain's
// head: read in Start, before Start returns, so no move made after Start is
// taken for one made before the feed existed.
func (s *Server) newFeed(ctx context.Context) (*feed, error) {
	f := &feed{s: s, sent: map[int64]bool{}}
	last, err := s.store.LastMoveSeq(ctx)
	if err != nil {
		return nil, fmt.Errorf("event feed: %w", err)
	}
	f.last, f.base = last, last
	if s.cfg.ChainFeed != nil {
		if h, err := s.cfg.ChainFeed.HeadHeight(ctx); err == nil {
			f.height, f.known = h, true
		}
	}
	return f, nil
}

type feed struct {
	s      *Server
	last   int64          // highest move seq sent
	base   int64          // moves up to this seq happened while nobody listened: never sent
	sent   map[int64]bool // moves sent within the window behind last
	height uint64         // highest block announced
	known  bool           // height has been read (blocks before it are never announced)
}

// skipToNow forgets what happened while nobody listened, and reports
// whether nobody still listens. It reads first and checks for subscribers
// after: a stream that opened before the read is seen and nothing is
// skipped; one that opened after it is sent every move committed after
// the read.
func (f *feed) skipToNow(ctx context.Context) bool {
	seq, err := f.s.store.LastMoveSeq(ctx)
	var head uint64
	headErr := errors.New("no chain feed")
	if f.s.cfg.ChainFeed != nil {
		head, headErr = f.s.cfg.ChainFeed.HeadHeight(ctx)
	}
	if f.s.hub.count() != 0 {
		return false
	}
	if err == nil {
		f.last, f.base = seq, seq
		clear(f.sent)
	}
	if headErr == nil {
		f.height, f.known = head, true
	}
	return true
}

func (f *feed) moves(ctx context.Context) error {
	moves, err := f.s.store.MovesAfter(ctx, max(f.base, f.last-movesWindow), movesPerPoll)
	if err != nil {
		return err
	}
	for _, m := range moves {
		if f.sent[m.Seq] || m.Seq <= f.base || m.Seq <= f.last-movesWindow {
			continue
		}
		f.sent[m.Seq] = true
		f.last = max(f.last, m.Seq)
		f.publishMove("submissions", m.Seq, m)
		if m.Status == coordinator.Minted && m.DATID != nil {
			f.publishMove("dats", m.Seq, map[string]any{"class": *m.DATID, "submission": m.Submission, "idao": m.IDAO, "at": m.At})
		}
	}
	for seq := range f.sent {
		if seq <= f.last-movesWindow {
			delete(f.sent, seq)
		}
	}
	return nil
}

// publishMove sends what a status move (seq) caused, to the streams that
// opened before it.
func (f *feed) publishMove(topic string, seq int64, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		f.s.log.Error("event not sent", "topic", topic, "err", err)
		return
	}
	f.s.hub.publish(event{topic: topic, id: strconv.FormatInt(seq, 10), seq: seq, data: b})
}

func (f *feed) blocks(ctx context.Context) error {
	if f.s.cfg.ChainFeed == nil {
		return nil
	}
	head, err := f.s.cfg.ChainFeed.HeadHeight(ctx)
	if err != nil {
		return err
	}
	if !f.known {
		f.height, f.known = head, true
		return nil
	}
	if head <= f.height {
		return nil
	}
	from := max(f.height+1, head-min(head, blocksPerPoll-1))
	for h := from; h <= head; h++ {
		b, err := f.s.cfg.ChainFeed.BlockEvent(ctx, h)
		if err != nil {
			return err
		}
		id := strconv.FormatUint(h, 10)
		f.s.Publish("blocks", id, b)
		if slices.ContainsFunc(b.Kinds, func(k string) bool { return strings.HasPrefix(k, "opt_") }) {
			f.s.Publish("claims", id, b)
		}
		f.height = h
	}
	return nil
}
