package watcher

import (
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/internal/records"
	"github.com/vsc-labs/vsc/internal/submission"
	"github.com/vsc-labs/vsc/internal/work"
	"github.com/vsc-labs/vsc/optimistic"
	"github.com/vsc-labs/vsc/tee/facts"
)

func csvOf(ds *records.Dataset) []byte {
	var b strings.Builder
	b.WriteString(strings.Join(ds.Fields, ",") + "\n")
	for _, r := range ds.Records {
		for i, v := range r {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprint(&b, v)
		}
		b.WriteByte('\n')
	}
	return []byte(b.String())
}

// The executor's job handler: an honest claim ends OK with the claim id as
// evidence (also on redelivery), a faulty one is overturned by the watcher
// and rejected, data that is not the submission's is rejected at once.
func TestExecutorJobs(t *testing.T) {
	t.Parallel()
	f := newFakeChain()
	f.fund(execA)
	f.fund(watchA)
	rng := rand.New(rand.NewPCG(7, 7))
	contributor, _ := crypto.GenerateKey()
	data := plain{}
	job := func(i int, ds *records.Dataset) work.Job {
		sub := submission.Submission{IDAO: "demo", Mode: "optimistic", Class: "dataset", Contributor: crypto.PubkeyToAddress(contributor.PublicKey),
			DataHash: common.Hash{byte(i)}, Commitment: records.Commitment(ds), Records: uint64(ds.Len()), Fields: uint32(len(ds.Fields)), Nonce: uint64(i)}
		sig, _ := sub.Sign(chainID, contributor)
		return work.Job{ID: fmt.Sprint("job-", i), Kind: "optimistic", ChainID: chainID, SubmissionID: sub.Digest(chainID), Submission: sub, Signature: sig}
	}
	good, bad := dataset(rng, 80), dataset(rng, 90)
	data[records.Commitment(good)], data[records.Commitment(bad)] = good, bad
	texts := map[string][]byte{"job-1": csvOf(good), "job-2": csvOf(bad), "job-3": csvOf(good)}
	open := func(_ context.Context, j *work.Job) ([]byte, error) { return slices.Clone(texts[j.ID]), nil } // Handle clears it
	exW := &Watcher{Chain: account{f, execA}, Data: data, Addr: execA, Bond: big.NewInt(1000)}
	wa := &Watcher{Chain: account{f, watchA}, Data: data, Addr: watchA, Bond: big.NewInt(1000)}
	honestEx := &Executor{W: exW, Open: open, Params: facts.DefaultParams, Bond: big.NewInt(2000), Poll: time.Millisecond}
	faultyEx := &Executor{W: exW, Open: open, Params: facts.DefaultParams, Bond: big.NewInt(2000), Poll: time.Millisecond, Faulty: true}

	run := func(e *Executor, j work.Job) work.Result {
		t.Helper()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan work.Result, 1)
		errc := make(chan error, 1)
		go func() {
			r, err := e.Handle(ctx, j)
			if err != nil {
				errc <- err
				return
			}
			done <- r
		}()
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			select {
			case r := <-done:
				return r
			case err := <-errc:
				t.Fatalf("%s: %v", j.ID, err)
			default:
			}
			for _, w := range []*Watcher{exW, wa} {
				if _, err := w.Tick(ctx); err != nil {
					t.Fatal(err)
				}
			}
			f.mu.Lock()
			f.height++
			f.mu.Unlock()
		}
		t.Fatalf("%s: no result", j.ID)
		return work.Result{}
	}

	j1 := job(1, good)
	r := run(honestEx, j1)
	var id common.Hash
	if !r.OK || json.Unmarshal(r.Evidence, &id) != nil || f.claims[id] == nil || f.claims[id].Status != optimistic.StatusFinalized {
		t.Fatalf("honest job: %+v", r)
	}
	if r2 := run(honestEx, j1); !r2.OK || string(r2.Evidence) != string(r.Evidence) {
		t.Fatalf("redelivered job: %+v", r2)
	}
	if r := run(faultyEx, job(2, bad)); r.OK || !r.Rejected || !strings.Contains(r.Reason, "overturned") {
		t.Fatalf("faulty job: %+v", r)
	}
	if r := run(honestEx, job(3, bad)); r.OK || !r.Rejected || !strings.Contains(r.Reason, "does not match") {
		t.Fatalf("mismatched data: %+v", r)
	}
}
