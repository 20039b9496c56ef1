package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/vsc-labs/vsc/coordinator/store"
	"github.com/vsc-labs/vsc/internal/testenv"
)

// TestLeaseOneHolderAndFencing: one holder at a time; renewing keeps the
// token; a takeover after expiry raises it, and the old holder's fencing
// check then fails; a release hands the lease over at once.
func TestLeaseOneHolderAndFencing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := store.Open(ctx, testenv.Database(t), 4, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const ttl = 400 * time.Millisecond
	a, held, err := st.AcquireLease(ctx, "finisher", "a", ttl)
	if err != nil || !held || a.Token != 1 {
		t.Fatalf("a: %+v held %v err %v", a, held, err)
	}
	if cur, held, err := st.AcquireLease(ctx, "finisher", "b", ttl); err != nil || held || cur.Holder != "a" {
		t.Fatalf("b took a held lease: %+v held %v err %v", cur, held, err)
	}
	if again, held, _ := st.AcquireLease(ctx, "finisher", "a", ttl); !held || again.Token != a.Token {
		t.Fatalf("renewal changed the token: %+v", again)
	}
	if err := st.CheckLease(ctx, a); err != nil {
		t.Fatal(err)
	}
	var b store.Lease
	testenv.Eventually(t, 10*time.Second, func() error { // a stops renewing: b takes over once it expired
		var held bool
		if b, held, err = st.AcquireLease(ctx, "finisher", "b", ttl); err != nil || !held {
			return errors.New("b has not taken the lease yet")
		}
		return nil
	})
	if b.Token <= a.Token {
		t.Fatalf("takeover token %d, want more than %d", b.Token, a.Token)
	}
	if err := st.CheckLease(ctx, a); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("the stale holder's fencing check: %v", err)
	}
	if err := st.ReleaseLease(ctx, a); err != nil { // a stale release changes nothing
		t.Fatal(err)
	}
	if err := st.CheckLease(ctx, b); err != nil {
		t.Fatalf("a stale release ended b's lease: %v", err)
	}
	if err := st.ReleaseLease(ctx, b); err != nil {
		t.Fatal(err)
	}
	if c, held, _ := st.AcquireLease(ctx, "finisher", "c", time.Minute); !held || c.Token != b.Token+1 {
		t.Fatalf("after release: %+v held %v", c, held)
	}
}

// TestLeaseRace: many contenders at once, exactly one wins.
func TestLeaseRace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := store.Open(ctx, testenv.Database(t), 16, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var wg sync.WaitGroup
	var mu sync.Mutex
	winners := 0
	for i := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, held, err := st.AcquireLease(ctx, "race", string(rune('a'+i)), time.Minute)
			if err != nil {
				t.Error(err)
			}
			if held {
				mu.Lock()
				winners++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if winners != 1 {
		t.Fatalf("%d holders at once, want 1", winners)
	}
}
