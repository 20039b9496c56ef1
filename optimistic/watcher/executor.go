package watcher

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/vsc-labs/vsc/internal/bus"
	"github.com/vsc-labs/vsc/internal/records"
	"github.com/vsc-labs/vsc/internal/service"
	"github.com/vsc-labs/vsc/internal/work"
	"github.com/vsc-labs/vsc/optimistic"
	"github.com/vsc-labs/vsc/tee/facts"
)

// Executor runs the bus's "optimistic" jobs: it reads the submission's
// plaintext, claims its facts through W (whose Run loop must be running: it
// defends the claim) and waits until the chain has decided the claim. The
// result is OK with the claim id as evidence (what quorum members check on
// chain) once the claim finalized, or Rejected with the reason when it was
// overturned. Redelivery is safe: the claim id is deterministic and a
// claim already posted is simply waited on.
//
// It is a service.Service: Start takes the jobs from Bus on a goroutine of
// its own until Stop. Start W first (and stop it after): it defends the
// executor's claims.
type Executor struct {
	// Bus is where Start takes "optimistic" jobs.
	Bus *bus.Bus
	W   *Watcher
	// Open returns the plaintext of the job's submission (it holds the
	// enclave key). An error wrapping ErrNoData rejects the job; any other
	// error is transient and the job is retried.
	Open   func(ctx context.Context, j *work.Job) ([]byte, error)
	Params facts.Params
	Bond   *big.Int
	// Faulty claims wrong results (devnet --faulty-executor).
	Faulty bool
	// Poll is how often the claim's status is read (default 200 ms).
	Poll time.Duration

	loop service.Group
}

// Kind is the job kind an executor consumes.
const Kind = "optimistic"

// Start takes optimistic jobs from e.Bus until Stop.
func (e *Executor) Start(ctx context.Context) error {
	if e.Bus == nil {
		return errors.New("optimistic executor: no bus")
	}
	return e.loop.Go(ctx, func(ctx context.Context) error { return e.Bus.Work(ctx, Kind, e.Handle) })
}

// Stop stops taking jobs and waits for the jobs in flight, at most until
// ctx ends. It copes with an executor that never started.
func (e *Executor) Stop(ctx context.Context) error { return e.loop.Stop(ctx) }

// Done is closed when the executor's consumer failed, or on Stop.
func (e *Executor) Done() <-chan struct{} { return e.loop.Done() }

// Err is why the executor's consumer failed, if it did.
func (e *Executor) Err() error { return e.loop.Err() }

// Handle is a bus.Work handler.
func (e *Executor) Handle(ctx context.Context, j work.Job) (work.Result, error) {
	res := work.Result{JobID: j.ID, Kind: j.Kind, SubmissionID: j.SubmissionID}
	reject := func(format string, a ...any) (work.Result, error) {
		res.Rejected, res.Reason = true, fmt.Sprintf(format, a...)
		return res, nil
	}
	plain, err := e.Open(ctx, &j)
	if errors.Is(err, ErrNoData) {
		return reject("the submission's data cannot be read: %v", err)
	}
	if err != nil {
		return res, fmt.Errorf("open submission %s: %w", j.SubmissionID.Hex(), err)
	}
	ds, err := records.Parse(plain)
	clear(plain)
	if err != nil {
		return reject("the decrypted dataset is invalid")
	}
	c, err := e.W.Claim(ctx, j.ChainID, &j.Submission, j.Signature, ds, e.Params, e.Bond, e.Faulty)
	if errors.Is(err, ErrDataMismatch) {
		return reject("%v", err)
	}
	if err != nil {
		return res, err
	}
	poll := e.Poll
	if poll <= 0 {
		poll = 200 * time.Millisecond
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		cur, err := e.W.Chain.Claim(ctx, c.ID)
		if err == nil {
			switch cur.Status {
			case optimistic.StatusFinalized:
				res.OK = true
				res.Evidence, _ = json.Marshal(cur.ID)
				return res, nil
			case optimistic.StatusOverturned:
				res.Overturned = true
				return reject("overturned: claim %s: %s", cur.ID.Hex(), cur.Reason)
			}
		}
		select {
		case <-ctx.Done():
			return res, fmt.Errorf("wait for claim %s: %w", c.ID.Hex(), ctx.Err())
		case <-t.C:
		}
	}
}
