// Package member is the quorum member node (`vscd quorum`, and N of them in
// the devnet): it receives vote requests for its iDAOs, re-verifies every
// piece of evidence on its own — the TEE evidence against the iDAO's TEE
// policy, the ZK proofs against the verifying key registered for the iDAO,
// the contributor's signature, its own membership and stake — reading policy
// and keys from the chain, never from the request, and signs an EIP-712 vote
// over the result digest. A member never approves two different digests for
// one submission: what it approved is kept in a local bbolt file, across
// restarts. What it could not check (the chain or a proof out of reach) it
// asks again later and never signs as a refusal.
package member

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/prometheus/client_golang/prometheus"
	bolt "go.etcd.io/bbolt"

	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/internal/bus"
	"github.com/vsc-labs/vsc/internal/keys"
	"github.com/vsc-labs/vsc/internal/submission"
	"github.com/vsc-labs/vsc/prover"
	"github.com/vsc-labs/vsc/quorum"
	"github.com/vsc-labs/vsc/tee"
)

// Chain is what a member reads from the chain: the iDAO (members, stake,
// policy with its TEE policy and registered verifying-key hash) and whether
// an enclave key is registered for it. An in-process member reads the
// chain's state directly (chain/node.Node); `vscd quorum` reads it over
// HTTP, every value checked by a state proof (ProvenChain).
type Chain interface {
	IDAO(name string) (*idao.IDAO, error)
	// EnclaveRegistered reports whether pub is registered on chain for the
	// iDAO; an error means the chain could not be read (not a "no").
	EnclaveRegistered(idao string, pub []byte) (bool, error)
}

// ErrChainRead marks a failure to read (or to prove) chain state while
// verifying: one kind of ErrCouldNotCheck (the member gives no vote rather
// than a refusal, since the evidence was not found wrong).
var ErrChainRead = fmt.Errorf("cannot read the chain: %w", ErrCouldNotCheck)

// Objects fetches zk proofs from the bus: at most max bytes of an object
// of a known bucket (bus.GetObject).
type Objects interface {
	GetObject(ctx context.Context, bucket, name string, max int) ([]byte, error)
}

// MaxProofObject caps a chunk proof a member reads (a Groth16 proof and its
// public inputs are a few KB; the proof stream refuses more anyway). A
// larger object is not a proof of ours: the evidence is refused.
const MaxProofObject = bus.MaxProofMsg

// VerifyingKeys loads a verifying key by its hash.
type VerifyingKeys interface {
	VerifyingKey(h common.Hash) (*prover.VerifyingKey, error)
}

// Config configures a member.
type Config struct {
	Key     *ecdsa.PrivateKey
	ChainID uint64
	DataDir string // the signed-votes record lives here
	// TEEPolicy overrides the iDAO's published TEE policy for this member
	// (a member may be stricter than its iDAO); nil uses the iDAO's.
	TEEPolicy *tee.Policy
	// LieDigest makes the member vote for a wrong digest (tests of a faulty
	// member: its vote must not count).
	LieDigest bool
	Log       *slog.Logger
}

// Member verifies evidence and signs votes.
type Member struct {
	cfg     Config
	addr    common.Address
	chain   Chain
	objects Objects
	vks     VerifyingKeys
	db      *bolt.DB
	log     *slog.Logger
	// requests and batches are the metrics (nil without WithMetrics)
	requests *prometheus.CounterVec
	batches  prometheus.Counter
	// policies caches parsed TEE policies by their published bytes
	policies sync.Map
	// enclaves caches the (iDAO, enclave key) pairs found registered;
	// a registration is never undone
	enclaves sync.Map
}

var signedBucket = []byte("signed")

// ErrEquivocation is returned when the member is asked to sign a second,
// different digest for a submission it already voted on.
var ErrEquivocation = errors.New("refusing to sign a second, different digest for one submission")

// ErrCouldNotCheck marks a request the member could not check — the chain
// could not be read or lags, a proof could not be fetched, a verifying key
// is not installed — as opposed to evidence that is wrong. It is never
// signed as a refusal: the request is asked again later, and after a few
// tries the member abstains.
var ErrCouldNotCheck = errors.New("could not check the evidence")

// couldNotCheck wraps err as ErrCouldNotCheck.
func couldNotCheck(format string, args ...any) error {
	return fmt.Errorf("%w: %w", ErrCouldNotCheck, fmt.Errorf(format, args...))
}

// New opens a member; the signed-votes record is DataDir/votes-<address>.db.
func New(cfg Config, chain Chain, objects Objects, vks VerifyingKeys) (*Member, error) {
	addr := keys.Address(cfg.Key)
	db, err := bolt.Open(filepath.Join(cfg.DataDir, "votes-"+addr.Hex()+".db"), 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open the member's vote record: %w", err)
	}
	if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucketIfNotExists(signedBucket); return err }); err != nil {
		db.Close()
		return nil, err
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Member{cfg: cfg, addr: addr, chain: chain, objects: objects, vks: vks, db: db, log: log.With("member", addr.Hex())}, nil
}

// Close closes the vote record.
func (m *Member) Close() error { return m.db.Close() }

// Address is the member's account.
func (m *Member) Address() common.Address { return m.addr }

// Decide verifies a request and returns the member's signed vote: approve
// with the recomputed result digest, or refuse with the reason.
func (m *Member) Decide(ctx context.Context, req *quorum.VoteRequest) (*quorum.Vote, error) {
	votes, errs := m.DecideBatch(ctx, []*quorum.VoteRequest{req})
	return votes[0], errs[0]
}

// DecideBatch verifies many requests and signs the votes as one batch (one
// signature, each vote with its own inclusion proof; see quorum.SignBatch).
// votes[i] is nil where errs[i] says why request i gets no vote: not a
// member, another chain, an equivocation attempt, or ErrCouldNotCheck (ask
// again later).
func (m *Member) DecideBatch(ctx context.Context, reqs []*quorum.VoteRequest) (votes []*quorum.Vote, errs []error) {
	votes, errs = make([]*quorum.Vote, len(reqs)), make([]error, len(reqs))
	daos := map[string]*idao.IDAO{}
	for i, req := range reqs {
		votes[i], errs[i] = m.decide(ctx, req, daos)
	}
	if err := m.record(votes, errs); err != nil {
		for i := range votes {
			if votes[i] != nil {
				votes[i], errs[i] = nil, couldNotCheck("record the vote: %w", err)
			}
		}
		return votes, errs
	}
	var sign []*quorum.Vote
	for _, v := range votes {
		if v != nil {
			sign = append(sign, v)
		}
	}
	if err := quorum.SignBatch(m.cfg.Key, m.cfg.ChainID, sign); err != nil {
		for i := range votes {
			if votes[i] != nil {
				votes[i], errs[i] = nil, couldNotCheck("sign the votes: %w", err)
			}
		}
	}
	return votes, errs
}

// decide verifies one request and returns the (unsigned) vote.
func (m *Member) decide(ctx context.Context, req *quorum.VoteRequest, daos map[string]*idao.IDAO) (*quorum.Vote, error) {
	if req.ChainID != m.cfg.ChainID {
		return nil, fmt.Errorf("vote request for chain %d, this member is on chain %d", req.ChainID, m.cfg.ChainID)
	}
	dao := daos[req.IDAO]
	if dao == nil {
		var err error
		if dao, err = m.chain.IDAO(req.IDAO); err != nil {
			// the coordinator accepted a submission for it: the chain is
			// unreachable or this member's view of it lags
			return nil, couldNotCheck("read iDAO %s from the chain: %w", req.IDAO, err)
		}
		daos[req.IDAO] = dao
	}
	if st := dao.StakeOf(m.addr); st == nil || st.Sign() <= 0 {
		return nil, fmt.Errorf("%s is not a staked member of iDAO %s", m.addr.Hex(), req.IDAO)
	}
	vote := &quorum.Vote{IDAO: req.IDAO, Submission: req.SubmissionID}
	digest, err := m.verify(ctx, dao, req)
	if errors.Is(err, ErrCouldNotCheck) {
		return nil, err
	}
	if err != nil {
		// a refusal names the request it refuses (its digest), so it counts
		// against that request only, never against a real one sent later
		vote.Approve, vote.Reason, vote.ResultDigest = false, truncate(err.Error(), maxReason), req.Digest()
	} else {
		vote.Approve, vote.ResultDigest = true, digest
		if m.cfg.LieDigest {
			vote.ResultDigest = crypto.Keccak256Hash([]byte("a lie"), digest[:])
		}
	}
	return vote, nil
}

// record makes sure the member never signs two different approved digests
// for one submission: each approval (nil entries and refusals are skipped)
// is checked against and added to the local record in one fsync'd
// transaction; an approval that would equivocate is dropped (votes[i] =
// nil, errs[i] says so). Refusals are not recorded: they are not
// equivocation (only two approvals are), and a refusal of a forged or
// broken request must not stop the member approving the real one.
func (m *Member) record(votes []*quorum.Vote, errs []error) error {
	refused := make([]bool, len(votes))
	// Batch coalesces concurrent records into one transaction; it may run
	// the function again, so its findings are reset on each run.
	err := m.db.Batch(func(tx *bolt.Tx) error {
		clear(refused)
		b := tx.Bucket(signedBucket)
		for i, v := range votes {
			if v == nil || !v.Approve {
				continue
			}
			val := append([]byte{1}, v.ResultDigest[:]...)
			if prev := b.Get(v.Submission[:]); prev != nil && prev[0] == 1 {
				refused[i] = string(prev) != string(val)
				continue
			}
			if err := b.Put(v.Submission[:], val); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i, r := range refused {
		if r {
			votes[i], errs[i] = nil, fmt.Errorf("%w %s", ErrEquivocation, votes[i].Submission.Hex())
		}
	}
	return nil
}

// maxReason bounds a refusal's reason (it is signed and shown publicly).
const maxReason = 500

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}

// verify re-checks every piece of evidence the iDAO's policy asks for and
// returns the result digest to sign.
func (m *Member) verify(ctx context.Context, dao *idao.IDAO, req *quorum.VoteRequest) (common.Hash, error) {
	sub := &req.Submission
	if sub.IDAO != dao.Name {
		return common.Hash{}, fmt.Errorf("the submission is for iDAO %q, not %q", sub.IDAO, dao.Name)
	}
	if sub.Digest(req.ChainID) != req.SubmissionID {
		return common.Hash{}, errors.New("the submission does not hash to the request's submission id")
	}
	if err := sub.Verify(req.ChainID, req.Signature); err != nil {
		return common.Hash{}, fmt.Errorf("the contributor's signature: %w", err)
	}
	if !dao.Policy.Accepts(sub.Mode) {
		return common.Hash{}, fmt.Errorf("iDAO %s does not accept mode %s", dao.Name, sub.Mode)
	}
	byKind := map[idao.Kind][]json.RawMessage{}
	for _, e := range req.Evidence {
		byKind[e.Kind] = e.Data
	}
	parts := map[idao.Kind]common.Hash{}
	var teeFacts *tee.Evidence
	var zkFacts *prover.Facts
	kinds := sub.Mode.Kinds()
	if len(kinds) == 0 {
		return common.Hash{}, fmt.Errorf("mode %q is not an evidence mode", sub.Mode)
	}
	for _, kind := range kinds {
		data := byKind[kind]
		if len(data) == 0 {
			return common.Hash{}, fmt.Errorf("no %s evidence", kind)
		}
		switch kind {
		case idao.KindTEE:
			ev, d, err := m.verifyTEE(dao, req, data[0])
			if err != nil {
				return common.Hash{}, err
			}
			teeFacts, parts[kind] = ev, d
		case idao.KindZK:
			f, d, err := m.verifyZK(ctx, dao, req, data)
			if err != nil {
				return common.Hash{}, err
			}
			zkFacts, parts[kind] = f, d
		case idao.KindOptimistic:
			d, err := m.verifyOptimistic(req, data[0])
			if err != nil {
				return common.Hash{}, err
			}
			parts[kind] = d
		default:
			return common.Hash{}, fmt.Errorf("this member cannot verify %s evidence", kind)
		}
	}
	if teeFacts != nil && zkFacts != nil {
		sums := make([]*big.Int, len(teeFacts.Facts.Sum))
		for i, s := range teeFacts.Facts.Sum {
			sums[i] = s.Big()
		}
		if err := zkFacts.Agree(teeFacts.Facts.Records, sums); err != nil {
			return common.Hash{}, fmt.Errorf("the TEE's facts and the proven facts disagree: %w", err)
		}
	}
	return quorum.ResultDigest(sub.Mode, parts), nil
}

func (m *Member) teePolicy(dao *idao.IDAO) (tee.Policy, error) {
	if m.cfg.TEEPolicy != nil {
		return *m.cfg.TEEPolicy, nil
	}
	if len(dao.Policy.TEEPolicy) == 0 {
		return tee.Policy{}, fmt.Errorf("iDAO %s publishes no TEE policy on chain", dao.Name)
	}
	if p, ok := m.policies.Load(string(dao.Policy.TEEPolicy)); ok {
		return p.(tee.Policy), nil
	}
	p, err := tee.ParsePolicy(dao.Policy.TEEPolicy)
	if err == nil {
		m.policies.Store(string(dao.Policy.TEEPolicy), p)
	}
	return p, err
}

// fetchProof reads a chunk proof for GatherEvidence: from the proofs
// bucket only (a reference naming any other is refused, and no bucket is
// ever created from one), at most MaxProofObject bytes.
func (m *Member) fetchProof(ctx context.Context, bucket, name string) ([]byte, error) {
	if bucket != bus.ProofBucket {
		return nil, fmt.Errorf("%w: the chunk reference names bucket %q, proofs live in %q", prover.ErrMalformedEvidence, bucket, bus.ProofBucket)
	}
	b, err := m.objects.GetObject(ctx, bucket, name, MaxProofObject)
	if errors.Is(err, bus.ErrTooLarge) {
		return nil, fmt.Errorf("%w: %v", prover.ErrMalformedEvidence, err)
	}
	if err != nil {
		return nil, couldNotCheck("%w", err)
	}
	return b, nil
}

func (m *Member) verifyTEE(dao *idao.IDAO, req *quorum.VoteRequest, raw json.RawMessage) (*tee.Evidence, common.Hash, error) {
	p, err := m.teePolicy(dao)
	if err != nil {
		return nil, common.Hash{}, err
	}
	ev, err := tee.DecodeEvidence(raw)
	if err != nil {
		return nil, common.Hash{}, fmt.Errorf("tee evidence: %w", err)
	}
	if _, err := tee.VerifyEvidence(p, ev, &req.Submission, req.ChainID); errors.Is(err, tee.ErrEgoUnavailable) {
		return nil, common.Hash{}, couldNotCheck("tee evidence: %w (this member was built without SGX support)", err)
	} else if err != nil {
		return nil, common.Hash{}, fmt.Errorf("tee evidence: %w", err)
	}
	if err := m.registered(dao.Name, ev.EnclaveKey, ev.Enclave); err != nil {
		return nil, common.Hash{}, err
	}
	return ev, ev.ResultDigest, nil
}

// registered checks that the enclave key of TEE evidence is registered on
// chain for the iDAO: an attested enclave that its iDAO never registered
// (another operator's, or one a stolen simulation root made up) is refused.
func (m *Member) registered(name string, pub []byte, addr common.Address) error {
	k := name + "\x00" + string(pub)
	if _, ok := m.enclaves.Load(k); ok {
		return nil
	}
	ok, err := m.chain.EnclaveRegistered(name, pub)
	if err != nil {
		return fmt.Errorf("%w: is the enclave key registered for iDAO %s: %w", ErrChainRead, name, err)
	}
	if !ok {
		return fmt.Errorf("tee evidence: enclave %s is not registered on chain for iDAO %s", addr.Hex(), name)
	}
	m.enclaves.Store(k, true)
	return nil
}

func (m *Member) verifyZK(ctx context.Context, dao *idao.IDAO, req *quorum.VoteRequest, data []json.RawMessage) (*prover.Facts, common.Hash, error) {
	want, err := registeredKey(dao, &req.Submission)
	if err != nil {
		return nil, common.Hash{}, err
	}
	vk, err := m.vks.VerifyingKey(want)
	if err != nil {
		return nil, common.Hash{}, couldNotCheck("load the registered verifying key %s: %w (install it in the member's --zk-keys)", want, err)
	}
	if z, ok := dao.Policy.ZKShapeFor(req.Submission.Fields); ok {
		if s, err := prover.ShapeOf(z); err != nil || s.Chunk != vk.Shape.Chunk || s.RangesText() != vk.Shape.RangesText() || s.Fields() != vk.Shape.Fields() {
			return nil, common.Hash{}, fmt.Errorf("zk evidence: the registered key %s is for circuit %s, not the shape the iDAO lists for %d fields", want, vk.Shape, z.Fields)
		}
	}
	refs := make([]prover.ChunkRef, len(data))
	for i, d := range data {
		if err := json.Unmarshal(d, &refs[i]); err != nil {
			return nil, common.Hash{}, fmt.Errorf("zk chunk reference %d: %w", i, err)
		}
	}
	ev, err := prover.GatherEvidence(ctx, refs, m.fetchProof)
	if err != nil {
		return nil, common.Hash{}, fmt.Errorf("zk proofs: %w", err)
	}
	f, err := prover.VerifyEvidence(vk, ev, &req.Submission)
	if err != nil {
		return nil, common.Hash{}, fmt.Errorf("zk evidence: %w", err)
	}
	return f, ZKResultDigest(req.SubmissionID, req.Submission.Commitment, f), nil
}

// registeredKey is the verifying key a submission's zk evidence must be
// made with: the iDAO's shape for its declared field count, or the single
// key of a policy made before shapes.
func registeredKey(dao *idao.IDAO, sub *submission.Submission) (common.Hash, error) {
	p := &dao.Policy
	if len(p.ZKShapes) > 0 {
		z, ok := p.ZKShapeFor(sub.Fields)
		if !ok {
			return common.Hash{}, fmt.Errorf("zk evidence: iDAO %s registers no zk shape for %d fields (it accepts %s)", dao.Name, sub.Fields, p.DescribeZKShapes())
		}
		return z.VKHash, nil
	}
	if p.VKHash == (common.Hash{}) {
		return common.Hash{}, fmt.Errorf("iDAO %s has no verifying key registered on chain", dao.Name)
	}
	return p.VKHash, nil
}

// ZKResultDigest is the result digest of verified zk facts.
func ZKResultDigest(submission, commitment common.Hash, f *prover.Facts) common.Hash {
	buf := []byte("vsc/result/zk")
	buf = append(buf, submission[:]...)
	buf = append(buf, commitment[:]...)
	buf = append(buf, new(big.Int).SetUint64(f.Count).Bytes()...)
	for _, s := range f.Sums {
		buf = append(buf, ':')
		buf = append(buf, s.String()...)
	}
	return crypto.Keccak256Hash(buf)
}
