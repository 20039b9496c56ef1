package server

import (
	"errors"
	"testing"

	"github.com/vsc-labs/vsc/coordinator"
	"github.com/vsc-labs/vsc/internal/codes"
)

// The hub serves at most MaxEventSubscribers; one more is refused with
// events_full until one leaves. A subscriber EventBuffer events behind is
// dropped (its channel closed, marked lagged) without holding up others.
func TestHubBoundsSubscribers(t *testing.T) {
	t.Parallel()
	h := newHub()
	subs := make([]*subscriber, 0, coordinator.MaxEventSubscribers)
	for range coordinator.MaxEventSubscribers {
		s, err := h.subscribe([]string{"blocks"}, 0)
		if err != nil {
			t.Fatal(err)
		}
		subs = append(subs, s)
	}
	var e *codes.Error
	if _, err := h.subscribe([]string{"blocks"}, 0); !errors.As(err, &e) || e.Code != codes.EventsFull {
		t.Fatalf("subscriber %d: %v, want events_full", coordinator.MaxEventSubscribers+1, err)
	}
	h.unsubscribe(subs[0])
	fast, err := h.subscribe([]string{"blocks", "dats"}, 0)
	if err != nil {
		t.Fatalf("after one left: %v", err)
	}
	// everyone but fast never reads
	for i := range coordinator.EventBuffer + 1 {
		h.publish(event{topic: "blocks", id: "x", data: []byte("{}")})
		if i < coordinator.EventBuffer {
			<-fast.ch
		}
	}
	if _, ok := <-fast.ch; !ok || fast.lagged {
		t.Fatal("a subscriber that kept up was dropped")
	}
	if _, ok := <-subs[1].ch; !ok {
		t.Fatal("a slow subscriber's queued events were lost")
	}
	if !subs[1].lagged || h.count() != 1 {
		t.Fatalf("slow subscriber lagged=%v, subscribers left %d (want 1)", subs[1].lagged, h.count())
	}
	// a move made before a stream opened is not delivered to it
	late, _ := h.subscribe([]string{"submissions"}, 7)
	h.publish(event{topic: "submissions", seq: 7})
	h.publish(event{topic: "submissions", seq: 8})
	if e := <-late.ch; e.seq != 8 {
		t.Fatalf("a stream opened after move 7 got move %d first", e.seq)
	}
	// a topic nobody asked for is not delivered
	h.publish(event{topic: "jobs"})
	select {
	case <-fast.ch:
		t.Fatal("an event of a topic not asked for was delivered")
	default:
	}
}
