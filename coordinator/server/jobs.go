package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/coordinator"
	"github.com/vsc-labs/vsc/coordinator/store"
	"github.com/vsc-labs/vsc/dat/escrow"
	"github.com/vsc-labs/vsc/internal/codes"
	"github.com/vsc-labs/vsc/internal/jobreq"
	"github.com/vsc-labs/vsc/internal/page"
	"github.com/vsc-labs/vsc/internal/work"
	"github.com/vsc-labs/vsc/tee/query"
)

// ServiceChain is what the jobs API reads from the chain: the facts a job
// is checked against before it is routed, and the settlement of a job.
type ServiceChain interface {
	JobFacts(ctx context.Context, app common.Address, r *jobreq.Request) (*coordinator.JobFacts, error)
	// SettledJob is the chain's record of a settled job (nil: not settled).
	SettledJob(ctx context.Context, id common.Hash) (*escrow.Settled, error)
}

// postJob is POST /v1/jobs: checks a signed job request and the cheap
// chain facts, refusing with a code before anything is routed or charged,
// then stores the job and routes it over NATS to its provider.
func (s *Server) postJob(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Services == nil {
		writeErr(w, codes.New(codes.Unavailable, "this coordinator has no chain link for data services"))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, coordinator.MaxJobJSONBytes))
	if err != nil {
		writeErr(w, codes.New(codes.BodyTooLarge, "a job request is at most %d bytes (MaxJobJSONBytes)", coordinator.MaxJobJSONBytes))
		return
	}
	var req coordinator.JobRequestBody
	if err := json.Unmarshal(body, &req); err != nil {
		writeErr(w, codes.New(codes.MalformedJSON, "the body is not a job request: %v", err))
		return
	}
	if v := s.storedJob(r.Context(), &req); v != nil { // a client sending the same job again (a retry)
		writeJSON(w, http.StatusOK, v)
		return
	}
	j, qj, err := s.checkJob(r.Context(), &req)
	if err != nil {
		writeErr(w, err)
		return
	}
	existed, err := s.store.InsertJob(r.Context(), j)
	if errors.Is(err, store.ErrNonceReplay) {
		writeErr(w, codes.New(codes.JobNonceUsed, "a job with nonce %d of this app and provider exists already: sign the request again with a higher nonce", j.Request.Nonce))
		return
	}
	if err != nil {
		writeErr(w, err)
		return
	}
	if !existed {
		if err := s.routeJob(r.Context(), qj); err != nil {
			_ = s.store.FailJob(r.Context(), j.ID, int(codes.Unavailable), err.Error())
			s.publishJob(j.ID, j, coordinator.JobFailed)
			writeErr(w, codes.New(codes.Unavailable, "the job could not be routed to its provider: %v", err))
			return
		}
		s.publishJob(j.ID, j, coordinator.JobRunning)
	}
	v, err := s.jobView(r.Context(), j.ID)
	if err != nil {
		writeErr(w, err)
		return
	}
	status := http.StatusAccepted
	if existed {
		status = http.StatusOK
	}
	writeJSON(w, status, v)
}

// storedJob is the view of the job req names when this coordinator holds
// it already with the same signature and query (nil otherwise): sending a
// job again answers it as stored whatever happened since, even once it
// is settled and its nonce used.
func (s *Server) storedJob(ctx context.Context, req *coordinator.JobRequestBody) *coordinator.JobView {
	j, err := s.store.GetJob(ctx, req.Request.Digest(s.cfg.ChainID))
	if err != nil || !bytes.Equal(j.Signature, req.Signature) || j.Query != req.Query {
		return nil
	}
	v, err := s.jobView(ctx, j.ID)
	if err != nil {
		return nil
	}
	return v
}

func (s *Server) routeJob(ctx context.Context, qj *work.QueryJob) error {
	b, err := json.Marshal(qj)
	if err != nil {
		return err
	}
	if err := s.bus.PublishQueryJob(ctx, qj.Request.Provider, qj.Job.Hex(), b); err != nil {
		return err
	}
	if err := s.store.MarkJobRunning(ctx, qj.Job); err != nil {
		return err
	}
	s.jobWaits.wake(qj.Job)
	return nil
}

// checkJob checks the request's own fields, then the chain's facts, and
// builds the job and its message.
func (s *Server) checkJob(ctx context.Context, b *coordinator.JobRequestBody) (*store.Job, *work.QueryJob, error) {
	rq := &b.Request
	app, err := checkJobFields(s.cfg.ChainID, b)
	if err != nil {
		return nil, nil, err
	}
	f, err := s.cfg.Services.JobFacts(ctx, app, rq)
	if err != nil {
		return nil, nil, codes.New(codes.Unavailable, "read the chain: %v", err)
	}
	if err := checkJobFacts(f, app, rq); err != nil {
		return nil, nil, err
	}
	if rq.Nonce <= f.Escrow.Nonce {
		return nil, nil, codes.New(codes.JobNonceUsed, "nonce %d is not above %d, the last this app settled with provider %s: sign again with a higher nonce",
			rq.Nonce, f.Escrow.Nonce, rq.Provider.Hex())
	}
	sub, err := s.store.SubmissionJob(ctx, f.Class.Provenance.Submission)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, codes.New(codes.NotFound, "this coordinator does not hold the dataset of class %s", rq.Class.Hex())
	}
	if err != nil {
		return nil, nil, err
	}
	id := rq.Digest(s.cfg.ChainID)
	j := &store.Job{ID: id, App: app, IDAO: f.Class.IDAO, Request: *rq, Signature: b.Signature, Query: b.Query}
	qj := &work.QueryJob{Job: id, ChainID: s.cfg.ChainID, IDAO: f.Class.IDAO, App: app, Request: *rq, Signature: b.Signature,
		Query: b.Query, Submission: sub.Submission, WrappedKey: sub.WrappedKey, MinGroupSize: int(f.IDAO.Policy.GroupFloor()), AnswerKey: b.AnswerKey}
	return j, qj, nil
}

// checkJobFields checks what needs no state: sizes, the signature, the
// query's hash and grammar, and an answer key's binding to the request by
// the same app. It returns the app that signed.
func checkJobFields(chainID uint64, b *coordinator.JobRequestBody) (common.Address, error) {
	rq := &b.Request
	switch {
	case b.Query == "" || len(b.Query) > coordinator.MaxQueryBytes:
		return common.Address{}, codes.New(codes.InvalidField, "query: 1 to %d bytes (MaxQueryBytes)", coordinator.MaxQueryBytes)
	case len(b.Signature) != coordinator.SignatureSize:
		return common.Address{}, codes.New(codes.BadSignature, "signature: %d bytes, want %d", len(b.Signature), coordinator.SignatureSize)
	case rq.Units == 0 || rq.Units > coordinator.MaxJobUnits:
		return common.Address{}, codes.New(codes.InvalidField, "units: 1 to %d", uint64(coordinator.MaxJobUnits))
	case rq.MaxFee == nil || rq.MaxFee.Sign() < 0 || rq.MaxFee.BitLen() > 256:
		return common.Address{}, codes.New(codes.InvalidField, "max_fee: a non-negative 256-bit integer")
	case query.QueryHash(b.Query) != rq.QueryHash:
		return common.Address{}, codes.New(codes.JobQueryHash, "the query text hashes to %s, the request signs %s", query.QueryHash(b.Query).Hex(), rq.QueryHash.Hex())
	}
	app, _, err := rq.Recover(chainID, b.Signature)
	if err != nil {
		return common.Address{}, codes.New(codes.BadSignature, "the job request's signature does not recover: %v", err)
	}
	if err := checkAnswerKey(chainID, rq.Digest(chainID), app, b.AnswerKey); err != nil {
		return common.Address{}, err
	}
	if _, err := query.Parse(b.Query); err != nil {
		var qe *query.Error
		if errors.As(err, &qe) {
			return common.Address{}, codes.New(qe.Code(), "the query is refused: %v", err)
		}
		return common.Address{}, codes.New(codes.JobQueryRefused, "the query is refused: %v", err)
	}
	return app, nil
}

// checkAnswerKey checks a job's answer key, if it has one: its sizes
// (answer_key_bytes, signature_bytes), that the key is a secp256k1 point,
// and that app (the request's signer) signed AnswerKey(request, key) for
// this very request. The provider's enclave checks the same again: the
// coordinator refuses early so that nothing is stored or routed.
func checkAnswerKey(chainID uint64, request common.Hash, app common.Address, k *jobreq.AnswerKey) error {
	switch {
	case k == nil:
		return nil
	case len(k.Key) != coordinator.AnswerKeySize:
		return codes.New(codes.AnswerKeyInvalid, "answer_key.key: %d bytes, want %d (a compressed secp256k1 public key, answer_key_bytes)", len(k.Key), coordinator.AnswerKeySize)
	case len(k.Signature) != coordinator.SignatureSize:
		return codes.New(codes.AnswerKeyInvalid, "answer_key.signature: %d bytes, want %d (signature_bytes)", len(k.Signature), coordinator.SignatureSize)
	}
	if _, err := k.Check(chainID, request, app); err != nil {
		if errors.Is(err, jobreq.ErrAnswerKeyNotBound) {
			return codes.New(codes.AnswerKeyNotBound, "%v: have the wallet sign the AnswerKey typed data of this request again", err)
		}
		return codes.New(codes.AnswerKeyInvalid, "%v", err)
	}
	return nil
}

// checkJobFacts checks the job against the chain: the token, its owner,
// units and expiry; the provider, its attestation and fee; the escrow and
// the deadline.
func checkJobFacts(f *coordinator.JobFacts, app common.Address, rq *jobreq.Request) error {
	t, p := f.Token, f.Provider
	switch {
	case t == nil:
		return codes.New(codes.JobUnknownToken, "there is no DAT token %s: buy units with `vsc dat buy CLASS --units N`", rq.Token.Hex())
	case t.Class != rq.Class || f.Class == nil || f.IDAO == nil:
		return codes.New(codes.JobWrongClass, "token %s belongs to class %s, the job names %s", rq.Token.Hex(), t.Class.Hex(), rq.Class.Hex())
	case t.Owner != app:
		return codes.New(codes.JobNotTokenOwner, "token %s belongs to %s, not to the app %s that signed the job", rq.Token.Hex(), t.Owner.Hex(), app.Hex())
	case t.Value < rq.Units:
		return codes.New(codes.JobTooFewUnits, "token %s holds %d units, the job spends %d: buy more with `vsc dat buy %s --units N`", rq.Token.Hex(), t.Value, rq.Units, rq.Class.Hex())
	case t.Expires != 0 && f.Now >= t.Expires:
		return codes.New(codes.JobTokenExpired, "token %s expired at %d (now %d)", rq.Token.Hex(), t.Expires, f.Now)
	case p == nil:
		return codes.New(codes.JobUnknownProvider, "%s is no data-service provider: list them with `vsc provider list`", rq.Provider.Hex())
	case p.IDAO != f.Class.IDAO:
		return codes.New(codes.JobUnknownProvider, "provider %s serves iDAO %q, the class is iDAO %q's", rq.Provider.Hex(), p.IDAO, f.Class.IDAO)
	case !f.Attested:
		return codes.New(codes.JobProviderNotAttested, "provider %s's enclave is not attested under iDAO %q's current TEE policy", rq.Provider.Hex(), p.IDAO)
	case rq.MaxFee.Cmp(p.Fee) < 0:
		return codes.New(codes.JobFeeBelowProvider, "max fee %s is below provider %s's fee %s", rq.MaxFee, rq.Provider.Hex(), p.Fee)
	case f.Escrow == nil || f.Escrow.Balance.Cmp(rq.MaxFee) < 0:
		have := "0"
		if f.Escrow != nil {
			have = f.Escrow.Balance.String()
		}
		return codes.New(codes.JobEscrowShort, "the sub-account with provider %s holds %s, the job's max fee is %s: `vsc escrow deposit %s --amount N`",
			rq.Provider.Hex(), have, rq.MaxFee, rq.Provider.Hex())
	case rq.Deadline <= f.Now:
		return codes.New(codes.JobDeadlinePassed, "the deadline %d is not after the chain's time %d", rq.Deadline, f.Now)
	case rq.Deadline > f.Now+coordinator.MaxJobDeadline:
		return codes.New(codes.InvalidField, "the deadline is more than %d s ahead (MaxJobDeadline)", coordinator.MaxJobDeadline)
	}
	return nil
}

// getJob is GET /v1/jobs/{id}.
func (s *Server) getJob(w http.ResponseWriter, r *http.Request) {
	id, err := parseHash(r.PathValue("id"))
	if err != nil {
		writeErr(w, err)
		return
	}
	wait, seen, err := parseJobWait(r)
	if err != nil {
		writeErr(w, err)
		return
	}
	v, err := s.jobView(r.Context(), id)
	if err == nil && wait > 0 && !seen.moved(v) {
		v, err = s.awaitJob(r.Context(), id, seen, wait)
	}
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, 200, v)
}

// jobSeen is what a waiting client has seen of a job: its status, and
// whether its answer.
type jobSeen struct {
	status   string
	answered bool
}

// moved says whether v is news to the client.
func (s jobSeen) moved(v *coordinator.JobView) bool {
	return v.Status != s.status || (v.Answer != nil && !s.answered)
}

// parseJobWait reads ?wait=SECONDS&seen=STATUS&answered=BOOL: hold the
// request until the job's status is no longer seen or its answer arrives
// (answered=false), for at most wait (≤ MaxJobWait).
func parseJobWait(r *http.Request) (time.Duration, jobSeen, error) {
	q := r.URL.Query()
	if q.Get("wait") == "" {
		return 0, jobSeen{}, nil
	}
	secs, err := strconv.ParseFloat(q.Get("wait"), 64)
	if err != nil || secs < 0 || secs > coordinator.MaxJobWait {
		return 0, jobSeen{}, codes.New(codes.InvalidField, "wait must be a number of seconds from 0 to %d (max_job_wait_seconds)", coordinator.MaxJobWait)
	}
	seen := jobSeen{status: q.Get("seen"), answered: q.Get("answered") == "true"}
	if len(seen.status) > 16 {
		return 0, jobSeen{}, codes.New(codes.InvalidField, "seen must be a job status")
	}
	return time.Duration(secs * float64(time.Second)), seen, nil
}

// awaitJob waits until job id moves past what the client has seen, or
// wait ends.
// A move this coordinator makes (the job routed, its answer stored) wakes
// it at once; a move made elsewhere (another coordinator, the chain's
// settlement, the deadline) is seen by a re-read every jobRecheck.
func (s *Server) awaitJob(ctx context.Context, id common.Hash, seen jobSeen, wait time.Duration) (*coordinator.JobView, error) {
	ch, ok := s.jobWaits.add(id)
	if !ok { // too many waiters: answer now, as without ?wait
		return s.jobView(ctx, id)
	}
	defer s.jobWaits.remove(id, ch)
	end := time.NewTimer(wait)
	defer end.Stop()
	tick := time.NewTicker(jobRecheck)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-s.jobWaits.stopped():
			return s.jobView(ctx, id)
		case <-end.C:
			return s.jobView(ctx, id)
		case <-ch:
		case <-tick.C:
		}
		v, err := s.jobView(ctx, id)
		if err != nil || seen.moved(v) {
			return v, err
		}
	}
}

// jobRecheck is how often a waiting request re-reads its job.
const jobRecheck = 250 * time.Millisecond

// jobWaiters are the requests waiting for jobs to move, by job.
type jobWaiters struct {
	mu   sync.Mutex
	n    int
	m    map[common.Hash][]chan struct{}
	stop chan struct{} // closed by close: every waiter answers now
}

// stopped is closed when the server stops.
func (jw *jobWaiters) stopped() <-chan struct{} {
	jw.mu.Lock()
	defer jw.mu.Unlock()
	if jw.stop == nil {
		jw.stop = make(chan struct{})
	}
	return jw.stop
}

// close answers every waiting request now (Stop: HTTP drains at once).
func (jw *jobWaiters) close() {
	jw.stopped()
	jw.mu.Lock()
	defer jw.mu.Unlock()
	select {
	case <-jw.stop:
	default:
		close(jw.stop)
	}
}

func (jw *jobWaiters) add(id common.Hash) (chan struct{}, bool) {
	jw.mu.Lock()
	defer jw.mu.Unlock()
	if jw.n >= coordinator.MaxJobWaiters {
		return nil, false
	}
	if jw.m == nil {
		jw.m = map[common.Hash][]chan struct{}{}
	}
	ch := make(chan struct{}, 1)
	jw.m[id] = append(jw.m[id], ch)
	jw.n++
	return ch, true
}

func (jw *jobWaiters) remove(id common.Hash, ch chan struct{}) {
	jw.mu.Lock()
	defer jw.mu.Unlock()
	l := jw.m[id]
	for i, c := range l {
		if c == ch {
			l = append(l[:i], l[i+1:]...)
			jw.n--
			break
		}
	}
	if len(l) == 0 {
		delete(jw.m, id)
	} else {
		jw.m[id] = l
	}
}

// wake tells the requests waiting for job id that it moved.
func (jw *jobWaiters) wake(id common.Hash) {
	jw.mu.Lock()
	defer jw.mu.Unlock()
	for _, c := range jw.m[id] {
		select {
		case c <- struct{}{}:
		default:
		}
	}
}

// listJobs is GET /v1/jobs?class=: the class's jobs on this coordinator,
// newest first, paged (one range of the index jobs_class_recent), each
// with its settlement read from the chain.
func (s *Server) listJobs(w http.ResponseWriter, r *http.Request) {
	class, err := parseHash(r.URL.Query().Get("class"))
	if err != nil {
		writeErr(w, codes.New(codes.InvalidField, "class: a DAT class id (0x and 64 hex digits) is required"))
		return
	}
	pr, err := page.Parse(r.URL.Query())
	if err == nil && pr.After != nil && len(pr.After) != store.JobKeySize {
		err = page.ErrBadCursor
	}
	if err == nil && pr.Limit > coordinator.MaxJobListLimit {
		err = fmt.Errorf("limit: at most %d jobs a page (max_job_list_limit)", coordinator.MaxJobListLimit)
	}
	if err != nil {
		writeErr(w, codes.New(codes.InvalidField, "%v", err))
		return
	}
	rows, err := s.store.ClassJobs(r.Context(), class, pr.After, pr.Limit+1)
	if err != nil {
		writeErr(w, err)
		return
	}
	out := coordinator.JobList{Jobs: []coordinator.JobSummary{}}
	if len(rows) > pr.Limit {
		rows, out.Next = rows[:pr.Limit], page.Cursor(rows[pr.Limit-1].Key())
	}
	for _, j := range rows {
		v := coordinator.JobSummary{Job: j.ID, Status: j.Status, App: j.App, Provider: j.Provider, Units: j.Units, MaxFee: j.MaxFee,
			Deadline: j.Deadline, CreatedAt: j.CreatedAt}
		if err := s.settle(r.Context(), &v.Status, &v.Fee, j.ID, j.Deadline); err != nil {
			writeErr(w, err)
			return
		}
		out.Jobs = append(out.Jobs, v)
	}
	writeJSON(w, 200, out)
}

// settle sets a job's status from the chain: settled (with its fee) once
// the chain holds it, expired when its deadline passed unsettled; a failed
// job stays failed.
func (s *Server) settle(ctx context.Context, status *string, fee **string, id common.Hash, deadline uint64) error {
	if s.cfg.Services == nil || *status == coordinator.JobFailed {
		return nil
	}
	st, err := s.cfg.Services.SettledJob(ctx, id)
	if err != nil {
		return codes.New(codes.Unavailable, "read the chain: %v", err)
	}
	if st != nil {
		f := st.Fee.String()
		*status, *fee = coordinator.JobSettled, &f
	} else if uint64(time.Now().Unix()) > deadline { // the chain's next block is at least now
		*status = coordinator.JobExpired
	}
	return nil
}

// jobView is a stored job with its settlement on chain: settled once the
// chain holds it, expired when its deadline passed unsettled.
func (s *Server) jobView(ctx context.Context, id common.Hash) (*coordinator.JobView, error) {
	j, err := s.store.GetJob(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, codes.New(codes.JobNotFound, "no job %s", id.Hex())
	}
	if err != nil {
		return nil, err
	}
	rq := &j.Request
	v := &coordinator.JobView{Job: id, Status: j.Status, Class: rq.Class, Token: rq.Token, App: j.App, Provider: rq.Provider, IDAO: j.IDAO,
		Units: rq.Units, MaxFee: rq.MaxFee.String(), Nonce: rq.Nonce, Deadline: rq.Deadline, Answer: j.Answer}
	if j.Answer != nil {
		h := j.ResultHash
		v.ResultHash = &h
	}
	if j.Status == "failed" {
		reason, code := j.Reason, codes.Code(j.Code).Name()
		v.Reason, v.Code = &reason, &code
		return v, nil
	}
	if s.cfg.Services != nil {
		st, err := s.cfg.Services.SettledJob(ctx, id)
		if err != nil {
			return nil, codes.New(codes.Unavailable, "read the chain: %v", err)
		}
		if st != nil {
			fee := st.Fee.String()
			v.Status, v.Fee, v.Settlement = coordinator.JobSettled, &fee, &coordinator.JobSettlement{Tx: st.Tx, Block: st.Height}
			return v, nil
		}
		if uint64(time.Now().Unix()) > rq.Deadline { // the chain's next block is at least now
			v.Status = coordinator.JobExpired
		}
	}
	return v, nil
}

// applyAnswers stores providers' answers (each published on its own
// provider's subject): a delivered answer must hold the enclave's
// signature over its request and result hashes.
func (s *Server) applyAnswers(ctx context.Context, provs []common.Address, msgs [][]byte) []error {
	errs := make([]error, len(msgs))
	for i, m := range msgs {
		var a work.QueryAnswer
		if err := json.Unmarshal(m, &a); err != nil {
			errs[i] = work.Refuse(codes.UndecodableJob, fmt.Errorf("undecodable answer: %w", err))
			continue
		}
		if a.Provider != provs[i] {
			errs[i] = work.Refuse(codes.Forbidden, fmt.Errorf("an answer for provider %s published by %s", a.Provider.Hex(), provs[i].Hex()))
			continue
		}
		if a.Answer != nil {
			if a.Answer.Job != a.Job {
				errs[i] = work.Refuse(codes.InvalidField, errors.New("the answer is for another job"))
				continue
			}
			if _, err := a.Answer.Check(common.Address{}); err != nil {
				errs[i] = work.Refuse(codes.InvalidField, fmt.Errorf("answer to job %s does not check: %w", a.Job.Hex(), err))
				continue
			}
		}
		if err := s.store.SetAnswer(ctx, &a); err != nil {
			errs[i] = err
			continue
		}
		s.jobWaits.wake(a.Job)
		status := coordinator.JobDelivered
		if a.Answer == nil {
			status = coordinator.JobFailed
		}
		s.publishJob(a.Job, nil, status)
	}
	return errs
}

// JobEvent is the data of a "jobs" event: a job's status move made by
// this coordinator (routed: running; answered: delivered or failed).
// Settlement is the chain's: a page sees it in the job's view.
type JobEvent struct {
	Job    common.Hash     `json:"job"`
	Status string          `json:"status"`
	Class  *common.Hash    `json:"class,omitempty"`
	App    *common.Address `json:"app,omitempty"`
	At     time.Time       `json:"at"`
}

// publishJob sends a job's status move on the "jobs" topic (j, when
// known, adds its class and app).
func (s *Server) publishJob(id common.Hash, j *store.Job, status string) {
	e := JobEvent{Job: id, Status: status, At: time.Now().UTC()}
	if j != nil {
		class, app := j.Request.Class, j.App
		e.Class, e.App = &class, &app
	}
	s.Publish("jobs", id.Hex(), e)
}

// jobsLoop consumes the providers' answers until ctx ends.
func (s *Server) jobsLoop(ctx context.Context) error {
	if err := s.bus.Answers(ctx, 256, s.applyAnswers); err != nil && ctx.Err() == nil {
		return fmt.Errorf("answers consumer: %w", err)
	}
	return nil
}
