package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/chain/tx"
	"github.com/vsc-labs/vsc/coordinator"
	"github.com/vsc-labs/vsc/coordinator/chainlink"
	srvpkg "github.com/vsc-labs/vsc/coordinator/server"
	"github.com/vsc-labs/vsc/coordinator/server/servertest"
	"github.com/vsc-labs/vsc/internal/codes"
	"github.com/vsc-labs/vsc/internal/testenv"
)

// sse reads one event stream: each event's name and data, in order.
type sse struct {
	resp   *http.Response
	events chan [2]string
}

func openSSE(t *testing.T, url string) *sse {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	s := &sse{resp: resp, events: make(chan [2]string, 1024)}
	go func() {
		defer close(s.events)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		var name, data string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if name != "" {
					s.events <- [2]string{name, data}
				}
				name, data = "", ""
			case strings.HasPrefix(line, "event: "):
				name = line[7:]
			case strings.HasPrefix(line, "data: "):
				data = line[6:]
			}
		}
	}()
	return s
}

// next waits for an event named name whose data satisfies ok.
func (s *sse) next(t *testing.T, name string, ok func(data string) bool) string {
	t.Helper()
	deadline := time.After(10 * time.Second)
	var seen []string
	for {
		select {
		case e, open := <-s.events:
			if !open {
				t.Fatalf("the stream ended before a %q event (saw %q)", name, seen)
			}
			if e[0] == name && ok(e[1]) {
				return e[1]
			}
			seen = append(seen, e[0]+" "+e[1])
		case <-deadline:
			t.Fatalf("no %q event within 10s (saw %q)", name, seen)
		}
	}
}

// Every status move of a submission is sent on the "submissions" topic,
// in order, to a stream that asked for it; the list endpoint pages newest
// first.
func TestEventsFollowStatusMoves(t *testing.T) {
	t.Parallel()
	f := newFixture(t, srvpkg.Config{EventPoll: 20 * time.Millisecond})
	s := openSSE(t, f.HTTP.URL+"/v1/events?topic=submissions")
	p := f.prepare(dataset, "tee", 0)
	sig, _ := p.Sign(f.key)
	v, _, err := f.Client.Submit(context.Background(), p.Request(sig), p.Blob())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []coordinator.Status{coordinator.Received, coordinator.Verifying} {
		s.next(t, "submissions", func(d string) bool {
			var m struct {
				ID     string             `json:"id"`
				Status coordinator.Status `json:"status"`
				IDAO   string             `json:"idao"`
			}
			return json.Unmarshal([]byte(d), &m) == nil && strings.EqualFold(m.ID, v.ID) && m.Status == want && m.IDAO == "demo"
		})
	}

	// a second submission, seen by a stream opened after the first's moves:
	// the new stream gets only what happens after it opened
	s2 := openSSE(t, f.HTTP.URL+"/v1/events?topic=submissions")
	p2 := f.prepare("x\n5\n", "tee", 1)
	sig2, _ := p2.Sign(f.key)
	if _, _, err := f.Client.Submit(context.Background(), p2.Request(sig2), p2.Blob()); err != nil {
		t.Fatal(err)
	}
	s2.next(t, "submissions", func(d string) bool {
		if strings.Contains(strings.ToLower(d), strings.ToLower(v.ID[2:])) {
			t.Errorf("a stream opened later was sent an earlier move: %s", d)
		}
		return strings.Contains(strings.ToLower(d), strings.ToLower(p2.Digest.Hex()[2:]))
	})
	var page1, page2 coordinator.SubmissionList
	get(t, f.HTTP.URL+"/v1/submissions?limit=1", 200, &page1)
	if len(page1.Submissions) != 1 || page1.Submissions[0].ID != p2.Digest.Hex() || page1.Next == "" {
		t.Fatalf("first page %+v", page1)
	}
	get(t, f.HTTP.URL+"/v1/submissions?limit=1&cursor="+page1.Next, 200, &page2)
	if len(page2.Submissions) != 1 || page2.Submissions[0].ID != v.ID || page2.Next != "" {
		t.Fatalf("second page %+v", page2)
	}
}

func get(t *testing.T, url string, status int, out any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != status {
		t.Fatalf("GET %s: %d, want %d", url, resp.StatusCode, status)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

// Bad requests of the stream and the list are refused with their codes,
// and unknown API paths answer JSON, not a page.
func TestEventsAndListRefusals(t *testing.T) {
	t.Parallel()
	f := newFixture(t, srvpkg.Config{})
	cases := []struct {
		path string
		code codes.Code
	}{
		{"/v1/events?topic=gossip", codes.UnknownTopic},
		{"/v1/events?topic=blocks&topic=dats,gossip", codes.UnknownTopic},
		{"/v1/submissions?limit=0", codes.InvalidField},
		{"/v1/submissions?cursor=AAAA", codes.InvalidField},
		{"/v1/nothing-here", codes.NotFound},
	}
	for _, tc := range cases {
		var e codes.Error
		get(t, f.HTTP.URL+tc.path, tc.code.HTTP(), &e)
		if e.Code != tc.code || e.Message == "" {
			t.Errorf("%s: %+v, want %s", tc.path, e, tc.code.Name())
		}
	}
}

// Stop ends every open stream with a "shutdown" event (a service's Stop
// must not wait on its clients), and the stream closes.
func TestStopEndsEventStreams(t *testing.T) {
	t.Parallel()
	f := newFixture(t, srvpkg.Config{})
	streams := []*sse{openSSE(t, f.HTTP.URL+"/v1/events"), openSSE(t, f.HTTP.URL+"/v1/events?topic=blocks")}
	done := make(chan error, 1)
	go func() { done <- f.Server.Stop(context.Background()) }()
	for _, s := range streams {
		s.next(t, "shutdown", func(string) bool { return true })
		testenv.Eventually(t, 5*time.Second, func() error {
			if _, open := <-s.events; open {
				return fmt.Errorf("stream still open")
			}
			return nil
		})
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Stop did not return")
	}
}

// A stream is sent what happens after it opened, never moves made while
// nobody listened (the feed reads back a window for late commits; that
// window must not replay the past to a new subscriber).
func TestEventsSkipWhatHappenedBefore(t *testing.T) {
	t.Parallel()
	f := newFixture(t, srvpkg.Config{EventPoll: 20 * time.Millisecond})
	p := f.prepare(dataset, "tee", 0)
	sig, _ := p.Sign(f.key)
	old, _, err := f.Client.Submit(context.Background(), p.Request(sig), p.Blob())
	if err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, func() error {
		v, err := f.Client.Status(context.Background(), old.ID)
		if err != nil || v.Status != coordinator.Verifying {
			return fmt.Errorf("status %v %v", v.Status, err)
		}
		return nil
	})
	s := openSSE(t, f.HTTP.URL+"/v1/events?topic=submissions")
	p2 := f.prepare("x\n5\n", "tee", 1)
	sig2, _ := p2.Sign(f.key)
	if _, _, err := f.Client.Submit(context.Background(), p2.Request(sig2), p2.Blob()); err != nil {
		t.Fatal(err)
	}
	s.next(t, "submissions", func(d string) bool {
		if strings.Contains(strings.ToLower(d), strings.ToLower(old.ID[2:])) {
			t.Errorf("a new stream was sent a move from before it opened: %s", d)
		}
		return strings.Contains(strings.ToLower(d), strings.ToLower(p2.Digest.Hex()[2:]))
	})
}

// lazyFeed reads the fixture's chain once the fixture has one.
type lazyFeed struct {
	f    *atomic.Pointer[servertest.Fixture]
	read *atomic.Bool // the feed has read the head
}

func (l lazyFeed) node() (*chainlink.Local, error) {
	f := l.f.Load()
	if f == nil {
		return nil, fmt.Errorf("no chain yet")
	}
	return &chainlink.Local{Chain: f.Chain}, nil
}

func (l lazyFeed) HeadHeight(ctx context.Context) (uint64, error) {
	n, err := l.node()
	if err != nil {
		return 0, err
	}
	l.read.Store(true)
	return n.HeadHeight(ctx)
}

func (l lazyFeed) BlockEvent(ctx context.Context, h uint64) (coordinator.BlockEvent, error) {
	n, err := l.node()
	if err != nil {
		return coordinator.BlockEvent{}, err
	}
	return n.BlockEvent(ctx, h)
}

// New blocks are sent on "blocks" in height order, and a block holding a
// tx of a kind the stream did not ask about is still a block.
func TestEventsFollowTheChainHead(t *testing.T) {
	t.Parallel()
	fix, read := new(atomic.Pointer[servertest.Fixture]), new(atomic.Bool)
	f := servertest.NewWithChain(t, srvpkg.Config{EventPoll: 20 * time.Millisecond, ChainFeed: lazyFeed{fix, read}})
	fix.Store(f)
	// the feed announces blocks after the first head it read
	testenv.Eventually(t, 5*time.Second, func() error {
		if !read.Load() {
			return fmt.Errorf("the feed has not read the chain yet")
		}
		return nil
	})
	s := openSSE(t, f.HTTP.URL+"/v1/events?topic=blocks")
	start := f.Chain.Head().Height
	if err := servertest.Send(context.Background(), f.Chain, f.OwnerKey, &tx.Transfer{To: common.Address{7}, Amount: big.NewInt(1)}); err != nil {
		t.Fatal(err)
	}
	var last uint64
	s.next(t, "blocks", func(d string) bool {
		var b coordinator.BlockEvent
		if err := json.Unmarshal([]byte(d), &b); err != nil {
			t.Fatalf("block event %s: %v", d, err)
		}
		if b.Height <= last || b.Height <= start {
			t.Fatalf("block %d after %d (head was %d when the stream opened)", b.Height, last, start)
		}
		last = b.Height
		return slices.Contains(b.Kinds, "transfer")
	})
}
