package node_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vsc-labs/vsc/chain"
	"github.com/vsc-labs/vsc/chain/api"
	"github.com/vsc-labs/vsc/chain/node"
	"github.com/vsc-labs/vsc/chain/tx"
	"github.com/vsc-labs/vsc/internal/testenv/poll"
)

// startFollower starts a follower of the sequencer at url on dir.
func startFollower(t *testing.T, dir, url string, log *slog.Logger) *node.Node {
	t.Helper()
	f, err := node.New(node.Config{DataDir: dir, Genesis: genesis(8), Lanes: 3, Logger: log,
		Follow: &node.Follow{URL: url, Poll: 5 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func caughtUp(seq, f *node.Node) func() error {
	return func() error {
		if a, b := seq.Head(), f.Head(); a.Hash() != b.Hash() {
			return fmt.Errorf("follower at %d, sequencer at %d", b.Height, a.Height)
		}
		return nil
	}
}

func getJSON(t *testing.T, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if v != nil {
		_ = json.NewDecoder(resp.Body).Decode(v)
	}
	return resp.StatusCode
}

// TestFollowerVerifiesAndServes: a follower re-executes the sequencer's
// blocks with its own lane count, reaches the same head and state root,
// forwards a tx to the sequencer, serves it with a proof, reports its lag,
// and resumes after a restart from what it stored.
func TestFollowerVerifiesAndServes(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	seqAPI := httptest.NewServer(h.n.Handler())
	defer seqAPI.Close()
	for i := 1; i <= 4; i++ {
		h.ok(i, &tx.Transfer{To: addr(i + 1), Amount: big.NewInt(int64(10 * i))})
	}
	dir := t.TempDir()
	f := startFollower(t, dir, seqAPI.URL, nil)
	if err := poll.Until(10*time.Second, caughtUp(h.n, f)); err != nil {
		t.Fatal(err)
	}
	if f.Head().StateRoot != h.n.Head().StateRoot {
		t.Fatal("same head, different state roots")
	}
	fAPI := httptest.NewServer(f.Handler())
	defer fAPI.Close()
	// a tx sent to the follower reaches the sequencer
	sent := h.build(5, h.n.NextNonce(addr(5)), &tx.Transfer{To: addr(1), Amount: big.NewInt(3)})
	body, _ := json.Marshal(&api.SubmitRequest{Raw: sent.Encode()})
	resp, err := http.Post(fAPI.URL+"/v1/chain/txs", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("forwarded tx: %s", resp.Status)
	}
	h.seal(sent)
	if err := poll.Until(10*time.Second, caughtUp(h.n, f)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.TxProof(sent.Hash()); err != nil {
		t.Fatalf("the follower has no proof of the forwarded tx: %v", err)
	}
	var head api.Header
	if getJSON(t, fAPI.URL+"/v1/chain/head", &head); head.Follow == nil || head.Follow.Lag != 0 || head.Follow.SequencerHeight != h.n.Head().Height {
		t.Fatalf("follower head status %+v", head.Follow)
	}
	f.Close()
	again := startFollower(t, dir, seqAPI.URL, nil)
	if again.Head().Hash() != h.n.Head().Hash() {
		t.Fatalf("restarted follower at %d, want %d from its store", again.Head().Height, h.n.Head().Height)
	}
}

// TestFollowerHaltsOnForgedBlock: a block whose state root has one flipped
// byte (signed by the sequencer: a lying sequencer), one signed by another
// key, and one with a tampered tx each halt the follower at that height,
// naming what it expected and got; the block is never stored or served.
func TestFollowerHaltsOnForgedBlock(t *testing.T) {
	t.Parallel()
	const forged = 3
	for _, c := range []struct {
		name, want string
		forge      func(b *chain.Block)
	}{
		{"flipped state byte", "state root: expected", func(b *chain.Block) {
			b.Header.StateRoot[7] ^= 0x01
			_ = b.Header.Sign(seqKey)
		}},
		{"bad sequencer signature", "sequencer signature", func(b *chain.Block) {
			b.Header.StateRoot[7] ^= 0x01
			_ = b.Header.Sign(key(9))
			b.Header.Proposer = addr(0)
		}},
		{"tampered tx", "tx root", nil}, // its first tx swapped for another validly signed one
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			for i := 1; i <= forged+1; i++ {
				h.ok(i, &tx.Transfer{To: addr(i + 1), Amount: big.NewInt(int64(i))})
			}
			real := h.n.Handler()
			lying := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != fmt.Sprintf("/v1/chain/blocks/%d/raw", forged) {
					real.ServeHTTP(w, r)
					return
				}
				b, err := h.n.Block(forged)
				if err != nil {
					http.Error(w, err.Error(), 500)
					return
				}
				if c.forge != nil {
					c.forge(b)
				} else {
					b.Txs[0] = h.build(7, 0, &tx.Transfer{To: addr(1), Amount: big.NewInt(1)})
				}
				_, _ = w.Write(b.Encode())
			})
			seqAPI := httptest.NewServer(lying)
			defer seqAPI.Close()
			logs := &syncBuffer{}
			f := startFollower(t, t.TempDir(), seqAPI.URL, slog.New(slog.NewTextHandler(logs, nil)))
			if err := poll.Until(10*time.Second, func() error {
				if f.Err() == nil {
					return errors.New("follower not halted")
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			var bad *node.BlockCheckError
			if !errors.As(f.Err(), &bad) || bad.Height != forged || !strings.Contains(bad.Error(), c.want) {
				t.Fatalf("halted with %v, want block %d: %s", f.Err(), forged, c.want)
			}
			if f.Head().Height != forged-1 {
				t.Fatalf("follower head %d, want %d: the forged block must not be stored", f.Head().Height, forged-1)
			}
			if _, err := f.Block(forged); err == nil {
				t.Fatal("the follower stored the forged block")
			}
			fAPI := httptest.NewServer(f.Handler())
			defer fAPI.Close()
			if code := getJSON(t, fmt.Sprintf("%s/v1/chain/blocks/%d", fAPI.URL, forged), nil); code != http.StatusNotFound {
				t.Fatalf("the follower serves block %d: %d", forged, code)
			}
			var head api.Header
			getJSON(t, fAPI.URL+"/v1/chain/head", &head)
			if head.Follow == nil || !strings.Contains(head.Follow.Halted, fmt.Sprintf("block %d", forged)) {
				t.Fatalf("head does not say the follower halted: %+v", head.Follow)
			}
			if l := logs.String(); !strings.Contains(l, "FOLLOWER HALTED") || !strings.Contains(l, fmt.Sprintf("height=%d", forged)) {
				t.Fatalf("the halt was not logged loudly:\n%s", l)
			}
		})
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

var _ io.Writer = (*syncBuffer)(nil)
