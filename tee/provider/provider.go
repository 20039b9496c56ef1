// Package provider is the data-service role of an iDAO's enclave (`vscd
// worker --serve`): it registers its enclave key on chain as a provider,
// takes the query jobs the coordinator routes to it over NATS, opens each
// class's dataset inside the enclave (decrypted, parsed datasets stay in
// enclave memory, in a cache evicted by size), runs the query under the
// iDAO's privacy floor, encrypts the result to the app's key (or to the
// answer key the app bound to the request, once the enclave checked the
// binding), signs every batch of answers once with the enclave key,
// publishes the answers, and then settles the batch on chain. A job is acknowledged only after its
// settlement was decided, so a provider killed mid-job gets the job again,
// runs it again, and the chain settles it once (a job settles never twice).
package provider

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/chain"
	"github.com/vsc-labs/vsc/chain/tx"
	"github.com/vsc-labs/vsc/internal/bus"
	"github.com/vsc-labs/vsc/internal/codes"
	"github.com/vsc-labs/vsc/internal/jobreq"
	"github.com/vsc-labs/vsc/internal/service"
	"github.com/vsc-labs/vsc/internal/work"
	"github.com/vsc-labs/vsc/tee"
	"github.com/vsc-labs/vsc/tee/query"
)

// Chain is what the provider needs of the chain: whether its account is
// registered, and sending a tx signed by its account (waiting for the
// receipt).
type Chain interface {
	Registered(ctx context.Context, provider common.Address) (bool, error)
	// Terms is what the chain says of a class (nil: no such class): its
	// iDAO, the submission its dataset was anchored from and the iDAO's
	// privacy floor. A job's message comes from the coordinator, which the
	// enclave does not believe on either.
	Terms(ctx context.Context, class common.Hash) (*Terms, error)
	Send(ctx context.Context, body tx.Body) (*chain.Receipt, error)
}

// Terms are the chain's facts a query job is answered under.
type Terms struct {
	IDAO       string
	Submission common.Hash // the class's anchored submission id
	Floor      int         // the iDAO's min_group_size in force
	// Allowed and Columns are the class's query policy (its contributor's
	// dat_query_policy): the aggregates and columns a query may use.
	Allowed, Columns []string
}

// Blobs is where the provider reads ciphertext (the bus's object store).
type Blobs interface {
	GetBlob(ctx context.Context, dataHash common.Hash) ([]byte, error)
}

// Config configures a provider.
type Config struct {
	ChainID uint64
	IDAO    string
	Account common.Address // the provider's chain account (paid the fees; stakes)
	Fee     *big.Int       // per job
	Stake   *big.Int
	// CacheBytes bounds the decrypted, parsed datasets kept in enclave
	// memory (default DefaultCacheBytes).
	CacheBytes int64
	// Batch bounds the jobs answered, signed and settled together
	// (default and most: tx.MaxSettleBatch).
	Batch int
	// Loops is how many batches are handled at once (default 8: each
	// waits for its settlement's block).
	Loops int
}

// DefaultCacheBytes is the default room of the dataset cache.
const DefaultCacheBytes = 1 << 30

// Provider is the running role; a service.Service.
type Provider struct {
	cfg   Config
	enc   *tee.Enclave
	bus   *bus.Bus
	blobs Blobs
	chain Chain
	// termsCache holds the chain's terms of each class served (termsEntry).
	termsCache sync.Map
	cache      *query.Cache
	log        *slog.Logger
	loop       service.Group
}

// New returns a provider of enc on b, settling through ch.
func New(cfg Config, enc *tee.Enclave, b *bus.Bus, ch Chain, log *slog.Logger) *Provider {
	if cfg.CacheBytes == 0 {
		cfg.CacheBytes = DefaultCacheBytes
	}
	if cfg.Loops <= 0 {
		cfg.Loops = 8
	}
	if cfg.Batch <= 0 || cfg.Batch > tx.MaxSettleBatch {
		cfg.Batch = tx.MaxSettleBatch
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Provider{cfg: cfg, enc: enc, bus: b, chain: ch, cache: query.NewCache(cfg.CacheBytes),
		log: log.With("role", "provider", "provider", cfg.Account.Hex())}
	if b != nil {
		p.blobs = b
	}
	return p
}

// WithBlobs replaces the blob source (tests).
func (p *Provider) WithBlobs(b Blobs) *Provider { p.blobs = b; return p }

// Start registers the provider on chain (once) and consumes its jobs until
// Stop.
func (p *Provider) Start(ctx context.Context) error {
	if err := p.register(ctx); err != nil {
		return err
	}
	return p.loop.Go(ctx, func(ctx context.Context) error {
		p.log.Info("provider serving", "idao", p.cfg.IDAO, "enclave", p.enc.Address().Hex())
		return p.bus.QueryJobs(ctx, p.cfg.Account, p.cfg.Loops, p.cfg.Batch, p.HandleBatch)
	})
}

// Stop stops taking jobs and waits for the batch in flight.
func (p *Provider) Stop(ctx context.Context) error { return p.loop.Stop(ctx) }

// Done is closed when the consumer failed, or on Stop.
func (p *Provider) Done() <-chan struct{} { return p.loop.Done() }

// Err is why the consumer failed, if it did.
func (p *Provider) Err() error { return p.loop.Err() }

// register makes the account a provider with the enclave's key, unless it
// is one already.
func (p *Provider) register(ctx context.Context) error {
	ok, err := p.chain.Registered(ctx, p.cfg.Account)
	if err != nil || ok {
		return err
	}
	bind, err := p.enc.SignProviderBinding(p.cfg.ChainID, p.cfg.Account)
	if err != nil {
		return err
	}
	body := &tx.ProviderRegister{IDAO: p.cfg.IDAO, PubKey: p.enc.PublicKeyBytes(), Binding: bind, Fee: p.cfg.Fee, Stake: p.cfg.Stake}
	rc, err := p.chain.Send(ctx, body)
	if err != nil {
		return fmt.Errorf("register provider %s: %w", p.cfg.Account.Hex(), err)
	}
	if rc.Status != chain.StatusSuccess {
		return fmt.Errorf("register provider %s: %w", p.cfg.Account.Hex(), rc.Err())
	}
	p.log.Info("provider registered on chain", "idao", p.cfg.IDAO, "fee", p.cfg.Fee, "stake", p.cfg.Stake)
	return nil
}

// done is one job of a batch once run: its answer message, and for an
// answered job its settlement item.
type done struct {
	msg  work.QueryAnswer
	app  common.Address
	item *tx.SettleItem
}

// HandleBatch answers a batch of jobs: run each, sign the answered ones
// once, publish every answer, settle the answered ones on chain. A
// message is acked (nil) once its settlement is decided; an error (the
// bus, the chain) redelivers it.
func (p *Provider) HandleBatch(ctx context.Context, msgs [][]byte) []error {
	start := time.Now()
	errs := make([]error, len(msgs))
	out := make([]*done, len(msgs))
	var ids, hashes []common.Hash
	var answered []int
	var batch *tx.ServiceSettle
	for i, m := range msgs {
		var j work.QueryJob
		if err := json.Unmarshal(m, &j); err != nil {
			errs[i] = work.Refuse(codes.UndecodableJob, fmt.Errorf("undecodable query job: %w", err))
			continue
		}
		d, err := p.run(ctx, &j)
		if err != nil {
			errs[i] = err
			continue
		}
		out[i] = d
		if d.msg.Answer != nil {
			answered = append(answered, i)
			ids, hashes = append(ids, j.Job), append(hashes, d.msg.Answer.ResultHash)
		}
	}
	if len(answered) > 0 {
		proofs, err := p.enc.SignJobBatch(ids, hashes)
		if err != nil {
			return fill(errs, err)
		}
		for k, i := range answered {
			p.bind(out[i], proofs[k])
		}
		batch = &tx.ServiceSettle{IDAO: p.cfg.IDAO, Root: proofs[0].Root, Size: proofs[0].Size, EnclaveSig: proofs[0].Signature}
	}
	for i, d := range out {
		if d == nil {
			continue
		}
		if err := p.publish(ctx, &d.msg); err != nil {
			errs[i] = err
			continue
		}
		if d.item != nil {
			batch.Items = append(batch.Items, *d.item)
		}
	}
	if batch != nil && len(batch.Items) > 0 {
		if err := p.settle(ctx, batch); err != nil {
			return fill(errs, err)
		}
	}
	p.log.Info("provider batch", "jobs", len(msgs), "answered", len(answered), "ms", time.Since(start).Milliseconds())
	return errs
}

func fill(errs []error, err error) []error {
	for i := range errs {
		if errs[i] == nil {
			errs[i] = err
		}
	}
	return errs
}

func (p *Provider) publish(ctx context.Context, a *work.QueryAnswer) error {
	b, err := json.Marshal(a)
	if err != nil {
		return err
	}
	id := a.Job.Hex()
	if a.Answer != nil {
		id += "/" + a.Answer.ResultHash.Hex()
	}
	return p.bus.PublishAnswer(ctx, p.cfg.Account, id, b)
}

// bind completes an answered job with its place in the signed batch.
func (p *Provider) bind(d *done, proof jobreq.Proof) {
	a := d.msg.Answer
	a.Proof = proof
	d.item = &tx.SettleItem{ID: a.Job, App: d.app, Request: a.Request, AppSig: a.Signature, ResultHash: a.ResultHash,
		Index: proof.Index, Path: proof.Path}
}

// settle posts the batch's answered jobs in one service_settle and waits
// for it; skipped items (a deadline passed, a job settled already by an
// earlier delivery) are the chain's verdict and final.
func (p *Provider) settle(ctx context.Context, b *tx.ServiceSettle) error {
	rc, err := p.chain.Send(ctx, b)
	if err != nil {
		return fmt.Errorf("settle %d jobs: %w", len(b.Items), err)
	}
	if rc.Status != chain.StatusSuccess {
		p.log.Warn("settlement refused", "jobs", len(b.Items), "err", rc.Err())
		return nil
	}
	for _, e := range rc.Events {
		if e.Type == "job_skipped" {
			p.log.Warn("job not settled", "job", e.Get("job"), "code", e.Get("code"), "detail", e.Detail)
		}
	}
	return nil
}

// ErrBadJob marks a job message that contradicts itself or is not this
// provider's: it fails, and is never run.
var ErrBadJob = errors.New("provider: bad query job")

// appKey checks the job's request and returns the app's public key.
func (p *Provider) appKey(j *work.QueryJob) (*ecdsa.PublicKey, error) {
	switch {
	case j.ChainID != p.cfg.ChainID:
		return nil, fmt.Errorf("%w: chain %d, this provider serves %d", ErrBadJob, j.ChainID, p.cfg.ChainID)
	case j.Request.Provider != p.cfg.Account:
		return nil, fmt.Errorf("%w: the request names provider %s", ErrBadJob, j.Request.Provider.Hex())
	case j.Request.Digest(j.ChainID) != j.Job:
		return nil, fmt.Errorf("%w: job %s is not the request's digest", ErrBadJob, j.Job.Hex())
	case query.QueryHash(j.Query) != j.Request.QueryHash:
		return nil, fmt.Errorf("%w: the query text does not hash to the signed query hash", ErrBadJob)
	}
	app, pub, err := j.Request.Recover(j.ChainID, j.Signature)
	if err != nil || app != j.App {
		return nil, fmt.Errorf("%w: the request is not signed by app %s", ErrBadJob, j.App.Hex())
	}
	return pub, nil
}

// answerKey is the key a job's answer is encrypted to: the app's account
// key (pub, recovered from the request's signature) or, when the job
// carries an answer key, that key once its binding checks here, in the
// enclave: the app that signed the request signed AnswerKey(request, key)
// for this very request. The coordinator that routed the job checked it
// too, and is not believed: a bad binding fails the job before it runs.
func (p *Provider) answerKey(j *work.QueryJob, pub *ecdsa.PublicKey) (*ecdsa.PublicKey, codes.Code, error) {
	if j.AnswerKey == nil {
		return pub, 0, nil
	}
	k, err := j.AnswerKey.Check(j.ChainID, j.Job, j.App)
	switch {
	case errors.Is(err, jobreq.ErrAnswerKeyNotBound):
		return nil, codes.AnswerKeyNotBound, err
	case err != nil:
		return nil, codes.AnswerKeyInvalid, err
	}
	return k, 0, nil
}
