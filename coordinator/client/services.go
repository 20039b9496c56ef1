package client

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"os"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/chain/api"
	"github.com/vsc-labs/vsc/chain/tx"
	"github.com/vsc-labs/vsc/coordinator"
	"github.com/vsc-labs/vsc/internal/codes"
	"github.com/vsc-labs/vsc/internal/jobreq"
	"github.com/vsc-labs/vsc/tee"
	"github.com/vsc-labs/vsc/tee/query"
)

// Data services: providers, escrow, jobs.

// Providers lists the data-service providers (of iDAO name; "": all).
func (c *Client) Providers(ctx context.Context, name string) (*api.ProviderList, error) {
	path := "/v1/chain/providers"
	if name != "" {
		path += "?idao=" + url.QueryEscape(name)
	}
	return get[api.ProviderList](ctx, c.chain(), path)
}

// Provider reads one provider.
func (c *Client) Provider(ctx context.Context, addr common.Address) (*api.Provider, error) {
	return get[api.Provider](ctx, c.chain(), "/v1/chain/providers/"+addr.Hex())
}

// Escrow reads an app's sub-accounts.
func (c *Client) Escrow(ctx context.Context, app common.Address) (*api.Escrow, error) {
	return get[api.Escrow](ctx, c.chain(), "/v1/chain/escrow/"+app.Hex())
}

// EscrowResult is what an escrow tx did.
type EscrowResult struct {
	Tx       common.Hash    `json:"tx"`
	Provider common.Address `json:"provider"`
	Amount   string         `json:"amount"`
	Balance  string         `json:"balance,omitempty"`
	Unlocks  uint64         `json:"unlocks_at,omitempty"`
}

// DepositEscrow moves amount from key's balance into its sub-account with provider.
func (c *Client) DepositEscrow(ctx context.Context, key *ecdsa.PrivateKey, provider common.Address, amount *big.Int) (*EscrowResult, error) {
	if amount == nil || amount.Sign() <= 0 {
		return nil, errors.New("--amount must be a positive integer of base units")
	}
	got, err := c.SendChainTx(ctx, key, &tx.EscrowDeposit{Provider: provider, Amount: amount})
	if err != nil {
		return nil, err
	}
	r := &EscrowResult{Tx: got.Hash, Provider: provider, Amount: amount.String()}
	if ev := event(got, "escrow_deposited"); ev != nil {
		r.Balance = ev.Get("balance")
	}
	return r, nil
}

// CheckDeposit refuses, before anything is signed or sent, a deposit the
// chain would refuse: amount is positive, provider is a registered
// provider, and from's balance covers amount (the fee comes on top). The
// chain checks again.
func (c *Client) CheckDeposit(ctx context.Context, from, provider common.Address, amount *big.Int) error {
	if amount == nil || amount.Sign() <= 0 {
		return errors.New("the amount must be a positive integer of base units (VSC)")
	}
	if _, err := c.Provider(ctx, provider); err != nil {
		if IsCode(err, codes.NotFound) {
			return fmt.Errorf("%s is no registered data-service provider: pick one of the iDAO's providers", provider.Hex())
		}
		return err
	}
	acc, err := c.Balance(ctx, from)
	if err != nil {
		return err
	}
	if bal, ok := new(big.Int).SetString(acc.Balance, 10); ok && bal.Cmp(amount) < 0 {
		return fmt.Errorf("depositing %s needs a balance of at least %s, the balance of %s is %s: fund the account first", amount, amount, from.Hex(), bal)
	}
	return nil
}

// DepositResult reads a committed escrow_deposit's result from its receipt.
func DepositResult(got *api.Tx) *EscrowResult {
	r := &EscrowResult{Tx: got.Hash}
	if ev := event(got, "escrow_deposited"); ev != nil {
		r.Provider = common.HexToAddress(ev.Get("provider"))
		r.Amount = ev.Get("amount")
		r.Balance = ev.Get("balance")
	}
	return r
}

// RefundEscrow starts a refund of amount (nil: all) from the sub-account
// with provider; it unlocks after the chain's refund lock.
func (c *Client) RefundEscrow(ctx context.Context, key *ecdsa.PrivateKey, provider common.Address, amount *big.Int) (*EscrowResult, error) {
	got, err := c.SendChainTx(ctx, key, &tx.EscrowRefund{Provider: provider, Amount: amount})
	if err != nil {
		return nil, err
	}
	r := &EscrowResult{Tx: got.Hash, Provider: provider}
	if ev := event(got, "escrow_refunding"); ev != nil {
		r.Amount = ev.Get("amount")
		fmt.Sscan(ev.Get("unlocks_at"), &r.Unlocks)
	}
	return r, nil
}

// WithdrawEscrow takes the unlocked refund from provider back to the balance.
func (c *Client) WithdrawEscrow(ctx context.Context, key *ecdsa.PrivateKey, provider common.Address) (*EscrowResult, error) {
	got, err := c.SendChainTx(ctx, key, &tx.EscrowWithdraw{Provider: provider})
	if err != nil {
		return nil, err
	}
	r := &EscrowResult{Tx: got.Hash, Provider: provider}
	if ev := event(got, "escrow_withdrawn"); ev != nil {
		r.Amount = ev.Get("amount")
	}
	return r, nil
}

// SubmitJob sends a signed job request with its query.
func (c *Client) SubmitJob(ctx context.Context, b *coordinator.JobRequestBody) (*coordinator.JobView, error) {
	var out coordinator.JobView
	if err := c.postJSON(ctx, "/v1/jobs", b, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Job reads a job's status (and its encrypted answer once delivered).
func (c *Client) Job(ctx context.Context, id common.Hash) (*coordinator.JobView, error) {
	return get[coordinator.JobView](ctx, c, "/v1/jobs/"+id.Hex())
}

// JobWait is Job once the job moved past status (or its answer arrived, if
// !answered), waiting at most wait on the coordinator (a long poll).
func (c *Client) JobWait(ctx context.Context, id common.Hash, status string, answered bool, wait time.Duration) (*coordinator.JobView, error) {
	q := url.Values{"wait": {strconv.FormatFloat(wait.Seconds(), 'f', 3, 64)}, "seen": {status}, "answered": {strconv.FormatBool(answered)}}
	return get[coordinator.JobView](ctx, c, "/v1/jobs/"+id.Hex()+"?"+q.Encode())
}

// QueryOptions are a query's parameters (`vsc query`).
type QueryOptions struct {
	Class, Token common.Hash
	Provider     common.Address // zero: the first attested provider of the class's iDAO
	Query        string
	Units        uint64   // default 1
	MaxFee       *big.Int // default the provider's fee
	Timeout      time.Duration
	Deadline     time.Duration // how long the provider has to settle (default 10 min)
	// Progress, if set, is told each status change.
	Progress func(status string)
	// NoSettleWait returns as soon as the answer is verified, without
	// waiting for its settlement (load generators).
	NoSettleWait bool
}

// QueryResult is `vsc query --json`.
type QueryResult struct {
	Job              common.Hash                `json:"job"`
	Class            common.Hash                `json:"class"`
	Token            common.Hash                `json:"token"`
	Provider         common.Address             `json:"provider"`
	Units            uint64                     `json:"units"`
	Fee              string                     `json:"fee"`
	Status           string                     `json:"status"`
	Result           QueryTable                 `json:"result"`
	SuppressedGroups int                        `json:"suppressed_groups"`
	ResultHash       common.Hash                `json:"result_hash"`
	Verified         bool                       `json:"verified"`
	Simulated        bool                       `json:"simulated"`
	Settlement       *coordinator.JobSettlement `json:"settlement"`
	// Saved is the verifiable answer (what --out writes).
	Saved *SavedAnswer `json:"-"`
}

// QueryTable is a result's columns and rows.
type QueryTable struct {
	Columns []string   `json:"columns"`
	Rows    [][]string `json:"rows"`
}

// SavedAnswer is a verifiable answer as `vsc query --out` writes it and
// `vsc job verify` reads it: the answer and the iDAO's TEE policy the
// client checked it against (proven on chain at block ProvenAt).
type SavedAnswer struct {
	Answer    *jobreq.Answer  `json:"answer"`
	TEEPolicy json.RawMessage `json:"tee_policy"`
	ProvenAt  uint64          `json:"proven_at"`
}

// Query signs a JobRequest with key, sends it, waits for the answer and
// verifies it (VerifyAnswer) before it returns anything; it then waits a
// little for the settlement.
func (c *Client) Query(ctx context.Context, key *ecdsa.PrivateKey, o QueryOptions) (*QueryResult, error) {
	b, err := c.buildJob(ctx, key, &o)
	if err != nil {
		return nil, err
	}
	v, err := c.SubmitJob(ctx, b)
	if err != nil {
		return nil, err
	}
	if o.Timeout == 0 {
		o.Timeout = time.Minute
	}
	wctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	last := ""
	v, err = c.waitJob(wctx, v.Job, o.Progress, &last, coordinator.JobDelivered)
	if err != nil {
		return nil, err
	}
	saved, pl, err := c.VerifyAnswer(ctx, v.Answer, key)
	if err != nil {
		return nil, err
	}
	if v.Status != coordinator.JobSettled && !o.NoSettleWait {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if s, err := c.waitJob(sctx, v.Job, o.Progress, &last, coordinator.JobSettled); err == nil {
			v = s
		}
		cancel()
	}
	res := &QueryResult{Job: v.Job, Class: v.Class, Token: v.Token, Provider: v.Provider, Units: v.Units, Fee: "0", Status: v.Status,
		Result: QueryTable{Columns: pl.Columns, Rows: pl.Rows}, SuppressedGroups: pl.SuppressedGroups, ResultHash: pl.ResultHash,
		Verified: true, Settlement: v.Settlement, Saved: saved}
	var pol tee.Policy
	if json.Unmarshal(saved.TEEPolicy, &pol) == nil {
		res.Simulated = pol.AllowSimulation
	}
	if v.Fee != nil {
		res.Fee = *v.Fee
	}
	return res, nil
}

// jobTarget is what a query needs to sign its request: the chain id and
// the provider, cached per (class, provider) for a short while (the
// coordinator checks them again; a client running many queries asks once).
type jobTarget struct {
	chainID  uint64
	provider *api.Provider
	at       time.Time
}

// targetTTL bounds how long a jobTarget or a verified enclave is reused.
const targetTTL = 30 * time.Second

var targets sync.Map // baseURL|class|provider → *jobTarget

func (c *Client) jobTarget(ctx context.Context, class common.Hash, want common.Address) (*jobTarget, error) {
	k := c.BaseURL + "|" + class.Hex() + "|" + want.Hex()
	if v, ok := targets.Load(k); ok && time.Since(v.(*jobTarget).at) < targetTTL {
		return v.(*jobTarget), nil
	}
	info, err := c.ChainInfo(ctx)
	if err != nil {
		return nil, err
	}
	cl, err := c.DATClass(ctx, class)
	if err != nil {
		return nil, err
	}
	p, err := c.pickProvider(ctx, cl.IDAO, want)
	if err != nil {
		return nil, err
	}
	t := &jobTarget{chainID: info.ChainID, provider: p, at: time.Now()}
	targets.Store(k, t)
	return t, nil
}

// buildJob builds the request and signs it with key.
func (c *Client) buildJob(ctx context.Context, key *ecdsa.PrivateKey, o *QueryOptions) (*coordinator.JobRequestBody, error) {
	rq, chainID, err := c.JobRequest(ctx, o)
	if err != nil {
		return nil, err
	}
	sig, err := rq.Sign(chainID, key)
	if err != nil {
		return nil, err
	}
	return &coordinator.JobRequestBody{Request: *rq, Signature: sig, Query: o.Query}, nil
}

// JobRequest builds the unsigned request of a query and returns it with
// the chain id it is signed under: the provider (o.Provider, or the first
// attested one of the class's iDAO), units (default 1), max fee (default
// the provider's fee), a fresh nonce and the deadline. The Web UI hands
// its TypedData to the wallet.
func (c *Client) JobRequest(ctx context.Context, o *QueryOptions) (*jobreq.Request, uint64, error) {
	tg, err := c.jobTarget(ctx, o.Class, o.Provider)
	if err != nil {
		return nil, 0, err
	}
	p := tg.provider
	if o.Units == 0 {
		o.Units = 1
	}
	fee, _ := new(big.Int).SetString(p.Fee, 10)
	if o.MaxFee == nil {
		o.MaxFee = fee
	}
	nonce := nextJobNonce() // microseconds: above the nonces settled before
	if o.Deadline == 0 {
		o.Deadline = 10 * time.Minute
	}
	return &jobreq.Request{Class: o.Class, Token: o.Token, Provider: p.Address, QueryHash: query.QueryHash(o.Query), Units: o.Units,
		MaxFee: o.MaxFee, Nonce: nonce, Deadline: uint64(time.Now().Add(o.Deadline).Unix())}, tg.chainID, nil
}

func (c *Client) pickProvider(ctx context.Context, dao string, want common.Address) (*api.Provider, error) {
	if want != (common.Address{}) {
		return c.Provider(ctx, want)
	}
	ps, err := c.Providers(ctx, dao)
	if err != nil {
		return nil, err
	}
	sort.SliceStable(ps.Providers, func(i, j int) bool { return ps.Providers[i].Attested && !ps.Providers[j].Attested })
	if len(ps.Providers) == 0 || !ps.Providers[0].Attested {
		return nil, fmt.Errorf("iDAO %s has no attested data-service provider: see `vsc provider list --idao %s`", dao, dao)
	}
	return &ps.Providers[0], nil
}

// lastNonce is the last job nonce this process used.
var lastNonce atomic.Uint64

// nextJobNonce is a fresh job nonce: the time in microseconds, above every
// nonce this process used before (concurrent queries never share one).
func nextJobNonce() uint64 {
	for {
		last, now := lastNonce.Load(), uint64(time.Now().UnixMicro())
		n := max(now, last+1)
		if lastNonce.CompareAndSwap(last, n) {
			return n
		}
	}
}

// waitJob polls a job until it reaches until (delivered or settled) or
// ends failed or expired.
func (c *Client) waitJob(ctx context.Context, id common.Hash, progress func(string), last *string, until string) (*coordinator.JobView, error) {
	// long polls: the coordinator answers as soon as the job moves; a
	// coordinator that answers at once anyway (one that holds no request)
	// is asked again after a delay that backs off
	delay := 5 * time.Millisecond
	t := time.NewTimer(delay)
	defer t.Stop()
	answered := false
	for {
		asked := time.Now()
		v, err := c.JobWait(ctx, id, *last, answered, jobLongPoll)
		if err != nil && ctx.Err() == nil {
			return nil, err
		}
		if v != nil {
			if v.Status != *last && progress != nil {
				progress(v.Status)
			}
			moved := v.Status != *last || (v.Answer != nil && !answered)
			*last, answered = v.Status, v.Answer != nil
			if moved {
				delay = 5 * time.Millisecond
			}
			switch {
			case v.Status == coordinator.JobFailed:
				return nil, codes.New(codes.JobFailed, "job %s failed: %s", id.Hex(), deref(v.Reason))
			case v.Status == coordinator.JobExpired:
				return nil, codes.New(codes.JobFailed, "job %s expired unanswered: nothing is charged", id.Hex())
			case (v.Status == until || v.Status == coordinator.JobSettled) && (until != coordinator.JobDelivered || v.Answer != nil):
				// (the chain may settle a job before the coordinator has
				// stored its answer: wait for the answer too)
				return v, nil
			}
		}
		select {
		case <-ctx.Done():
			return nil, codes.New(codes.JobTimeout, "no answer to job %s before the timeout (last status %q): `vsc job show %s` follows it", id.Hex(), *last, id.Hex())
		case <-t.C:
			if time.Since(asked) >= jobLongPoll/2 {
				delay = 0 // the coordinator held the request: ask again now
			} else {
				delay = min(2*max(delay, 5*time.Millisecond), 100*time.Millisecond)
			}
			t.Reset(delay)
		}
	}
}

// jobLongPoll is how long one poll of a job may wait on the coordinator.
const jobLongPoll = 10 * time.Second

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// VerifyAnswer checks an answer before anything of it is believed: the
// request is the app's (key's) own, the enclave key is registered on chain
// for the iDAO and attests under its proven TEE policy, it signed (job ‖
// result hash), and the decrypted result hashes to that result hash.
func (c *Client) VerifyAnswer(ctx context.Context, a *jobreq.Answer, key *ecdsa.PrivateKey) (*SavedAnswer, *jobreq.Payload, error) {
	saved, err := c.VerifyEnvelope(ctx, a, crypto.PubkeyToAddress(key.PublicKey))
	if err != nil {
		return nil, nil, err
	}
	pl, err := OpenAnswer(a, key)
	if err != nil {
		return nil, nil, err
	}
	return saved, pl, nil
}

// VerifyEnvelope checks everything of an answer that needs no key: the
// request is signed by app (zero: by anyone), the job id is its digest,
// the enclave key is registered on chain for the iDAO and attests under
// its proven TEE policy, and it signed the batch holding (job ‖ result
// hash). What it cannot check is that the ciphertext decrypts to a result
// of that hash: that needs the app's key (VerifyAnswer, VerifySaved). The
// Web UI runs it in the browser, whose wallet does not expose the key
// (it then decrypts with the answer key it made for the job: OpenAnswer).
func (c *Client) VerifyEnvelope(ctx context.Context, a *jobreq.Answer, app common.Address) (*SavedAnswer, error) {
	if a == nil {
		return nil, codes.New(codes.AnswerUnverified, "the job has no answer yet")
	}
	if _, err := a.Check(app); err != nil {
		return nil, codes.New(codes.AnswerUnverified, "the answer does not verify: %v", err)
	}
	ve, err := c.verifiedEnclave(ctx, a.IDAO, a.EnclaveKey)
	if err != nil {
		return nil, err
	}
	return &SavedAnswer{Answer: a, TEEPolicy: ve.policy, ProvenAt: ve.height}, nil
}

// verified is an enclave key proven registered for an iDAO and attested
// under its proven TEE policy.
type verified struct {
	policy json.RawMessage
	height uint64
	at     time.Time
}

var enclaves sync.Map // sequencer|iDAO|key → *verified

// verifiedEnclave proves (or recalls, for targetTTL) that pub is
// registered on chain for the iDAO and attests under its TEE policy.
func (c *Client) verifiedEnclave(ctx context.Context, dao string, pub []byte) (*verified, error) {
	k := c.Trust.Sequencer.Hex() + "|" + dao + "|" + common.Bytes2Hex(pub)
	if v, ok := enclaves.Load(k); ok && time.Since(v.(*verified).at) < targetTTL && v.(*verified).height >= c.Trust.MinHeight {
		return v.(*verified), nil
	}
	v, err := c.ProvenIDAO(ctx, dao, pub)
	if err != nil {
		return nil, err
	}
	e := v.Enclave(pub)
	if v.IDAO == nil || e == nil {
		return nil, codes.New(codes.AnswerUnverified, "the answering enclave key is not registered on chain for iDAO %s (proven at block %d)", dao, v.Header.Height)
	}
	pol, err := tee.ParsePolicy(v.IDAO.Policy.TEEPolicy)
	if err != nil {
		return nil, codes.New(codes.AnswerUnverified, "iDAO %s's TEE policy on chain is unusable: %v", dao, err)
	}
	if _, err := tee.VerifyKeyAttestationJSON(pol, e.PubKey, e.Report); err != nil {
		return nil, codes.New(codes.AnswerUnverified, "the answering enclave's attestation fails iDAO %s's TEE policy: %v", dao, err)
	}
	ve := &verified{policy: v.IDAO.Policy.TEEPolicy, height: v.Header.Height, at: time.Now()}
	enclaves.Store(k, ve)
	return ve, nil
}

// OpenAnswer decrypts an answer with the app's key (or, for an answer
// sealed to an answer key, that key's private half) and checks the result
// against the signed result hash.
func OpenAnswer(a *jobreq.Answer, key *ecdsa.PrivateKey) (*jobreq.Payload, error) {
	if a.AnswerKey != nil && !a.AnswerKey.Holds(key) {
		return nil, codes.New(codes.AnswerKeyNotHeld, "the answer is encrypted to the answer key %s that the app bound to job %s (made by the Web UI page that ran the query, which kept its private half in memory only), not to this key: it can be read only where that answer key is held; run the query again to read the rows",
			hexutil.Encode(a.AnswerKey.Key), a.Job.Hex())
	}
	pl, err := jobreq.Open(a.Ciphertext, key)
	if err != nil {
		return nil, codes.New(codes.AnswerUndecryptable, "%v: only the app that signed the job can read its answer", err)
	}
	if err := a.CheckPayload(pl, PayloadHash); err != nil {
		return nil, codes.New(codes.AnswerUnverified, "%v", err)
	}
	return pl, nil
}

// PayloadHash is the result hash of a decrypted payload (the query
// engine's canonical result hash).
func PayloadHash(p *jobreq.Payload) common.Hash {
	r := query.Result{Columns: p.Columns, Rows: p.Rows, SuppressedGroups: p.SuppressedGroups, BelowFloor: p.BelowFloor}
	return r.Hash()
}

// VerifySaved re-checks a saved answer offline: the request's signature,
// the enclave's batch signature over (job ‖ result hash), the enclave
// key's attestation under the saved TEE policy, and, with the app's key,
// the decrypted result against the result hash.
func VerifySaved(s *SavedAnswer, key *ecdsa.PrivateKey) (*jobreq.Payload, error) {
	a := s.Answer
	if a == nil {
		return nil, errors.New("the file holds no answer")
	}
	if _, err := a.Check(common.Address{}); err != nil {
		return nil, codes.New(codes.AnswerUnverified, "the answer does not verify: %v", err)
	}
	pol, err := tee.ParsePolicy(s.TEEPolicy)
	if err != nil {
		return nil, codes.New(codes.AnswerUnverified, "the saved TEE policy is unusable: %v", err)
	}
	if _, err := tee.VerifyKeyAttestationJSON(pol, a.EnclaveKey, a.Attestation); err != nil {
		return nil, codes.New(codes.AnswerUnverified, "the enclave's attestation fails the saved TEE policy: %v", err)
	}
	if key == nil {
		return nil, nil
	}
	return OpenAnswer(a, key)
}

// WriteSaved writes a saved answer to path.
func WriteSaved(path string, s *SavedAnswer) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o600)
}

// ReadSaved reads a saved answer.
func ReadSaved(path string) (*SavedAnswer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s := new(SavedAnswer)
	if err := json.Unmarshal(b, s); err != nil {
		return nil, fmt.Errorf("%s is not a saved answer: %v", path, err)
	}
	return s, nil
}

// SettledJob reads the chain's record of a settled job.
func (c *Client) SettledJob(ctx context.Context, id common.Hash) (*api.SettledJob, error) {
	return get[api.SettledJob](ctx, c.chain(), "/v1/chain/jobs/"+id.Hex())
}
