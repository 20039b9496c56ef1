package server

import (
	"math/big"
	"net/http/httptest"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/coordinator"
	"github.com/vsc-labs/vsc/internal/codes"
	"github.com/vsc-labs/vsc/internal/jobreq"
)

// TestJobWaiters: a move wakes the requests waiting for that job only,
// Stop answers every waiter, and no more than MaxJobWaiters wait at once.
func TestJobWaiters(t *testing.T) {
	t.Parallel()
	var jw jobWaiters
	a, b := common.HexToHash("0xa"), common.HexToHash("0xb")
	ca, ok := jw.add(a)
	cb, ok2 := jw.add(b)
	if !ok || !ok2 {
		t.Fatal("room for two waiters refused")
	}
	jw.wake(a)
	select {
	case <-ca:
	default:
		t.Fatal("the waiter of the job that moved was not woken")
	}
	select {
	case <-cb:
		t.Fatal("a waiter of another job was woken")
	default:
	}
	jw.remove(a, ca)
	jw.remove(b, cb)
	if jw.n != 0 || len(jw.m) != 0 {
		t.Fatalf("after removing both: %d waiters, %d jobs", jw.n, len(jw.m))
	}
	for i := range coordinator.MaxJobWaiters {
		if _, ok := jw.add(common.BigToHash(big.NewInt(int64(i) + 100))); !ok {
			t.Fatalf("waiter %d refused below the limit", i)
		}
	}
	if _, ok := jw.add(a); ok {
		t.Fatal("a waiter over MaxJobWaiters was taken")
	}
	jw.close()
	select {
	case <-jw.stopped():
	default:
		t.Fatal("close did not answer the waiters")
	}
	jw.close() // twice is fine
}

// TestJobWaitParams: ?wait is bounded and ?seen is a status.
func TestJobWaitParams(t *testing.T) {
	t.Parallel()
	for _, q := range []string{"wait=-1", "wait=31", "wait=x", "wait=1&seen=aaaaaaaaaaaaaaaaaaaaaaa"} {
		if _, _, err := parseJobWait(httptest.NewRequest("GET", "/v1/jobs/0x1?"+q, nil)); codes.Of(err) != codes.InvalidField {
			t.Errorf("%s: %v, want invalid_field", q, err)
		}
	}
	d, seen, err := parseJobWait(httptest.NewRequest("GET", "/v1/jobs/0x1?wait=2.5&seen=running&answered=false", nil))
	if err != nil || d.Seconds() != 2.5 || seen.status != "running" || seen.answered {
		t.Fatalf("wait=2.5&seen=running: %v %v %v", d, seen, err)
	}
	if !seen.moved(&coordinator.JobView{Status: "delivered"}) || seen.moved(&coordinator.JobView{Status: "running"}) {
		t.Fatal("moved: a status change is news, the same status is not")
	}
	ans := jobSeen{status: "settled"}
	if !ans.moved(&coordinator.JobView{Status: "settled", Answer: &jobreq.Answer{}}) {
		t.Fatal("an answer arriving after settlement is news to a client that had none")
	}
}
