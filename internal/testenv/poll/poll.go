// Package poll is how vsc's tests wait for something: they poll a
// condition until it holds or a deadline passes, never sleep a guessed
// time. internal/testenv.Eventually is the helper tests use; the packages
// testenv itself imports (internal/bus, chain/node), whose in-package tests
// cannot import it, use this package directly.
package poll

import (
	"fmt"
	"testing"
	"time"
)

// Interval is how often a condition is polled.
const Interval = 20 * time.Millisecond

// Until polls cond every Interval until it returns nil, or until total has
// passed; it then returns cond's last error.
func Until(total time.Duration, cond func() error) error {
	deadline := time.Now().Add(total)
	for {
		err := cond()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("condition not met after %s: %w", total, err)
		}
		time.Sleep(Interval)
	}
}

// Eventually fails t unless cond returns nil within total (Until). cond
// runs on the test's goroutine, so it may call t.Fatal.
func Eventually(t testing.TB, total time.Duration, cond func() error) {
	t.Helper()
	if err := Until(total, cond); err != nil {
		t.Fatal(err)
	}
}
