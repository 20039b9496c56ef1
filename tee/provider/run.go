package provider

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/internal/codes"
	"github.com/vsc-labs/vsc/internal/jobreq"
	"github.com/vsc-labs/vsc/internal/records"
	"github.com/vsc-labs/vsc/internal/work"
	"github.com/vsc-labs/vsc/tee"
	"github.com/vsc-labs/vsc/tee/query"
)

// run answers one job (the answer is not yet signed): a job it cannot
// answer for good (a bad request, a refused query) is a failed answer; an
// error is transient (the blob could not be fetched) and redelivers it.
func (p *Provider) run(ctx context.Context, j *work.QueryJob) (*done, error) {
	d := &done{msg: work.QueryAnswer{Job: j.Job, Provider: p.cfg.Account}, app: j.App}
	fail := func(c codes.Code, err error) (*done, error) {
		d.msg.Failed, d.msg.Code = err.Error(), c
		p.log.Info("query job failed", "job", j.Job.Hex(), "code", c.Name())
		return d, nil
	}
	pub, err := p.appKey(j)
	if err != nil {
		return fail(codes.InvalidField, err)
	}
	pub, c, err := p.answerKey(j, pub)
	if err != nil {
		return fail(c, err)
	}
	q, err := query.Parse(j.Query)
	if err != nil {
		return fail(queryCode(err), err)
	}
	terms, err := p.terms(ctx, j.Request.Class)
	if err != nil {
		return nil, err
	}
	if c, err := checkTerms(j, terms, p.cfg.IDAO); err != nil {
		return fail(c, err)
	}
	ds, err := p.dataset(ctx, j)
	if errors.Is(err, tee.ErrJobInputs) {
		return fail(codes.InvalidField, err)
	}
	if err != nil {
		return nil, err
	}
	pol := query.Policy{MinGroupSize: terms.Floor, Allowed: terms.Allowed, Columns: terms.Columns}
	res, err := q.Run(ds, pol)
	if err != nil {
		return fail(queryCode(err), err)
	}
	floor := pol.Floor()
	switch {
	case res.BelowFloor:
		return fail(codes.JobQueryRefused, fmt.Errorf("the WHERE clause leaves fewer than %d records (the iDAO's min_group_size): the answer would reveal individual records, so none is given and nothing is charged", floor))
	case len(res.Rows) == 0 && res.SuppressedGroups > 0:
		return fail(codes.JobQueryRefused, fmt.Errorf("every group has fewer than %d records (the iDAO's min_group_size): the answer would reveal individual records, so none is given and nothing is charged", floor))
	}
	h := res.Hash()
	pl := &jobreq.Payload{Job: j.Job, Class: j.Request.Class, Commitment: j.Submission.Commitment, Columns: res.Columns, Rows: res.Rows,
		SuppressedGroups: res.SuppressedGroups, BelowFloor: res.BelowFloor, ResultHash: h}
	ct, err := jobreq.Seal(pl, pub)
	if err != nil {
		return nil, fmt.Errorf("encrypt the answer: %w", err)
	}
	d.msg.Answer = &jobreq.Answer{Job: j.Job, ChainID: j.ChainID, IDAO: j.IDAO, Request: j.Request, Signature: j.Signature,
		Ciphertext: ct, AnswerKey: j.AnswerKey, ResultHash: h, EnclaveKey: p.enc.PublicKeyBytes(), Attestation: tee.EncodeAttestation(p.enc.KeyAttestation())}
	return d, nil
}

// checkTerms refuses a job whose dataset is not the one the chain anchored
// for its class, or whose class is another iDAO's: the coordinator names
// both, and is not believed.
func checkTerms(j *work.QueryJob, t *Terms, idao string) (codes.Code, error) {
	switch {
	case t == nil:
		return codes.JobWrongClass, fmt.Errorf("the chain has no DAT class %s", j.Request.Class.Hex())
	case t.IDAO != idao:
		return codes.JobWrongClass, fmt.Errorf("DAT class %s is iDAO %s's; this provider serves %s", j.Request.Class.Hex(), t.IDAO, idao)
	case j.Submission.Digest(j.ChainID) != t.Submission:
		return codes.JobWrongClass, fmt.Errorf("the job's dataset is not the one DAT class %s was anchored from (submission %s)", j.Request.Class.Hex(), t.Submission.Hex())
	}
	return 0, nil
}

// terms are the chain's facts of a class, read at most every termsTTL.
func (p *Provider) terms(ctx context.Context, class common.Hash) (*Terms, error) {
	if v, ok := p.termsCache.Load(class); ok {
		if e := v.(termsEntry); time.Since(e.at) < termsTTL {
			return e.t, nil
		}
	}
	t, err := p.chain.Terms(ctx, class)
	if err != nil {
		return nil, fmt.Errorf("read DAT class %s's terms from the chain: %w", class.Hex(), err)
	}
	if t != nil { // an absent class is asked again next time
		p.termsCache.Store(class, termsEntry{t: t, at: time.Now()})
	}
	return t, nil
}

// termsTTL bounds how long a class's terms (its iDAO's privacy floor) are
// reused: a raised floor applies to jobs within this time.
const termsTTL = 10 * time.Second

type termsEntry struct {
	t  *Terms
	at time.Time
}

func queryCode(err error) codes.Code {
	var qe *query.Error
	if errors.As(err, &qe) {
		return qe.Code()
	}
	return codes.JobQueryRefused
}

// dataset is the job's dataset, from the cache or opened in the enclave.
func (p *Provider) dataset(ctx context.Context, j *work.QueryJob) (*records.Dataset, error) {
	key := j.Submission.DataHash.Hex()
	if ds, ok := p.cache.Get(key); ok {
		return ds, nil
	}
	blob, err := p.blobs.GetBlob(ctx, j.Submission.DataHash)
	if err != nil {
		return nil, fmt.Errorf("fetch blob %s: %w", j.Submission.DataHash.Hex(), err)
	}
	ds, err := p.enc.OpenDataset(&j.Submission, blob, j.WrappedKey)
	if err != nil {
		return nil, err
	}
	p.cache.Put(key, ds, query.DatasetSize(ds))
	return ds, nil
}
