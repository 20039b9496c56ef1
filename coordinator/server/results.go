package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/coordinator"
	"github.com/vsc-labs/vsc/coordinator/store"
	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/internal/bus"
	"github.com/vsc-labs/vsc/internal/codes"
	"github.com/vsc-labs/vsc/internal/work"
	"github.com/vsc-labs/vsc/prover"
	"github.com/vsc-labs/vsc/quorum"
	"github.com/vsc-labs/vsc/tee"
)

// Refusals of results and votes (each a work.ErrPermanent: the message is
// terminated with the reason logged, and changes nothing). The refusals'
// codes (codes.UnsignedResult, codes.VoteNotMember, …) are logged with
// them (attribute "code"); a refused vote is dropped the same way.
var (
	// ErrUnsignedResult: a worker's result not signed by the enclave key of
	// its submission's iDAO.
	ErrUnsignedResult = errors.New("result not signed by the iDAO's enclave key")
	// ErrWrongKind: a result of a kind its submission's mode does not need.
	ErrWrongKind = errors.New("result of a kind the submission does not need")
	// ErrNoChainLink: a vote reached a coordinator that has no chain to
	// read stake from.
	ErrNoChainLink = errors.New("a vote arrived but this coordinator has no chain link")
)

// checkResult authenticates a worker's result before it is stored: it must
// be of a kind the submission needs and signed by the enclave key of the
// submission's iDAO — a rejection or a failure too, so that no one else can
// end a submission. An OK result's evidence must also verify (TEE evidence
// against the iDAO's TEE policy, bound to the submission; a zk chunk
// reference well-formed and bound to its job; an optimistic claim id);
// evidence that does not is recorded as a rejection with the reason, as the
// quorum would have refused it. t nil or final: the store ignores the result.
func (s *Server) checkResult(ctx context.Context, r *work.Result, t *store.Target) error {
	if t == nil {
		return work.Refuse(codes.UnknownSubmission, fmt.Errorf("a %s result for submission %s, which was never stored", r.Kind, r.SubmissionID.Hex()))
	}
	if t.Status.Final() {
		return nil // a late result (another kind already ended it): the store ignores it
	}
	if !t.Sub.Mode.Needs(r.Kind) {
		return work.Refuse(codes.WrongKind, fmt.Errorf("%w: a %q result for a %s submission %s", ErrWrongKind, r.Kind, t.Sub.Mode, t.ID.Hex()))
	}
	dao, err := s.idao(ctx, t.Sub.IDAO)
	if errors.Is(err, store.ErrUnknownIDAO) {
		return work.Refuse(codes.UnsignedResult, fmt.Errorf("result for submission %s of unknown iDAO %q", t.ID.Hex(), t.Sub.IDAO))
	}
	if err != nil {
		return fmt.Errorf("read iDAO %s: %w", t.Sub.IDAO, err)
	}
	pub, err := crypto.UnmarshalPubkey(dao.EnclavePubkey())
	if err != nil {
		return work.Refuse(codes.UnsignedResult, fmt.Errorf("%w: iDAO %s names no enclave key", ErrUnsignedResult, dao.Name))
	}
	enclave := crypto.PubkeyToAddress(*pub)
	if r.Signer != enclave {
		return work.Refuse(codes.UnsignedResult, fmt.Errorf("%w: the %s result for %s names signer %s, iDAO %s's enclave is %s",
			ErrUnsignedResult, r.Kind, t.ID.Hex(), r.Signer.Hex(), dao.Name, enclave.Hex()))
	}
	if signer, err := tee.RecoverMessageSigner(r.Digest(), r.Signature); err != nil || signer != enclave {
		return work.Refuse(codes.UnsignedResult, fmt.Errorf("%w: the %s result for %s has a bad signature", ErrUnsignedResult, r.Kind, t.ID.Hex()))
	}
	if !r.OK {
		return nil
	}
	if why := s.checkEvidence(r, t, dao); why != nil {
		s.log.Warn("signed result with evidence that does not verify: recorded as a rejection",
			"submission", t.ID.Hex(), "kind", r.Kind, "code", codes.BadEvidence.Name(), "err", why)
		r.OK, r.Rejected, r.Reason = false, true, why.Error()
	}
	return nil
}

// checkEvidence checks an OK result's evidence (see checkResult).
func (s *Server) checkEvidence(r *work.Result, t *store.Target, dao *coordinator.Registered) error {
	switch r.Kind {
	case idao.KindTEE:
		p, err := s.teePolicy(dao)
		if err != nil {
			return err
		}
		ev, err := tee.DecodeEvidence(r.Evidence)
		if err != nil {
			return fmt.Errorf("the TEE evidence does not verify: %w", err)
		}
		if _, err := tee.VerifyEvidence(p, ev, &t.Sub, t.ChainID); err != nil {
			return fmt.Errorf("the TEE evidence does not verify: %w", err)
		}
	case idao.KindZK:
		ref, err := prover.DecodeRef(r.Evidence)
		if err != nil {
			return fmt.Errorf("the zk evidence is no chunk reference: %w", err)
		}
		switch {
		case ref.Index != r.Chunk || ref.Chunks != t.ZKChunks:
			return fmt.Errorf("the zk chunk reference is for chunk %d of %d, the job was chunk %d of %d", ref.Index, ref.Chunks, r.Chunk, t.ZKChunks)
		case ref.ChunkSize > prover.MaxChunk || ref.Chunks != prover.Chunks(int(t.Sub.Records), ref.ChunkSize):
			return fmt.Errorf("the zk chunk reference's chunk size %d does not split %d records into %d chunks", ref.ChunkSize, t.Sub.Records, ref.Chunks)
		case ref.Bucket != bus.ProofBucket || ref.Object != prover.ProofObjectName(t.ID, ref.VKHash, ref.Index):
			return fmt.Errorf("the zk chunk reference names a proof object other than this job's")
		}
	case idao.KindOptimistic:
		var claim common.Hash
		if err := json.Unmarshal(r.Evidence, &claim); err != nil || claim == (common.Hash{}) {
			return fmt.Errorf("the optimistic evidence is no claim id")
		}
	}
	return nil
}

// maxVotesPerMessage bounds the votes of one member's message (members
// sign batches of at most 256).
const maxVotesPerMessage = 1024

// decodeVotes decodes a member's vote message: one vote (a JSON object, for
// the result's submission) or a batch (a JSON array of 1 to
// maxVotesPerMessage votes).
func decodeVotes(r *work.Result) ([]*quorum.Vote, error) {
	if t := bytes.TrimLeft(r.Evidence, " \t\r\n"); len(t) > 0 && t[0] == '[' {
		var vs []*quorum.Vote
		if err := json.Unmarshal(r.Evidence, &vs); err != nil {
			return nil, err
		}
		switch {
		case len(vs) == 0:
			return nil, fmt.Errorf("an empty vote batch")
		case len(vs) > maxVotesPerMessage:
			return nil, fmt.Errorf("%d votes in one message, at most %d", len(vs), maxVotesPerMessage)
		case slices.Contains(vs, nil):
			return nil, fmt.Errorf("a null vote in the batch")
		}
		return vs, nil
	}
	var v quorum.Vote
	if err := json.Unmarshal(r.Evidence, &v); err != nil {
		return nil, err
	}
	if v.Submission != r.SubmissionID {
		return nil, fmt.Errorf("the vote is for %s, the message for %s", v.Submission, r.SubmissionID)
	}
	return []*quorum.Vote{&v}, nil
}

// checkVotes checks the votes of each message (votes[i], nil for other
// messages) on arrival and returns the ones to store. A vote is dropped,
// with a log line, unless its submission is voting, it is for that
// submission's iDAO, its signature (through its batch proof, if batched) is
// the member's, the member has stake on chain, and — for a refusal — it
// refuses the very request this coordinator sent (its result digest is
// that request's quorum.VoteRequest.Digest). A message whose votes could not
// be checked (a chain read) gets a transient error in errs; one that can
// never count, ErrPermanent. daos caches the iDAOs read for the batch.
func (s *Server) checkVotes(ctx context.Context, votes [][]*quorum.Vote, targets map[common.Hash]*store.Target,
	daos map[string]*idao.IDAO, errs []error) map[int][]*store.CheckedVote {
	out := map[int][]*store.CheckedVote{}
	var refusals []common.Hash
	for i, vs := range votes {
		if len(vs) == 0 || errs[i] != nil {
			continue
		}
		if s.cfg.Chain == nil {
			errs[i] = work.Refuse(codes.NoChainLink, ErrNoChainLink)
			continue
		}
		var keep []*store.CheckedVote
		for _, v := range vs {
			c, err := s.checkVote(ctx, v, targets[v.Submission], daos)
			if err != nil {
				errs[i], keep = err, nil
				break
			}
			if c != nil {
				keep = append(keep, c)
				if !v.Approve {
					refusals = append(refusals, v.Submission)
				}
			}
		}
		if len(keep) > 0 {
			out[i] = keep
		}
	}
	if len(refusals) == 0 {
		return out
	}
	// a refusal counts only against the request this coordinator sent
	reqs, err := s.store.VoteRequests(ctx, refusals)
	sent := map[common.Hash]common.Hash{}
	for _, r := range reqs {
		sent[r.SubmissionID] = r.Digest()
	}
	for i, keep := range out {
		if err != nil {
			errs[i] = fmt.Errorf("assemble vote requests to check refusals: %w", err)
			delete(out, i)
			continue
		}
		kept := keep[:0]
		for _, c := range keep {
			if v := c.Vote; !v.Approve && sent[v.Submission] != v.ResultDigest {
				s.log.Warn("refusal of a vote request this coordinator did not send dropped", "submission", v.Submission.Hex(),
					"member", v.Member.Hex(), "refused", v.ResultDigest.Hex(), "code", codes.RefusalNotSent.Name())
				continue
			}
			kept = append(kept, c)
		}
		out[i] = kept
	}
	return out
}

// checkVote checks one vote (see checkVotes): nil, nil drops it; an error
// means the chain could not be read.
func (s *Server) checkVote(ctx context.Context, v *quorum.Vote, t *store.Target, daos map[string]*idao.IDAO) (*store.CheckedVote, error) {
	switch {
	case t == nil:
		s.log.Warn("vote for an unknown submission dropped", "submission", v.Submission.Hex(), "member", v.Member.Hex(),
			"code", codes.UnknownSubmission.Name())
		return nil, nil
	case t.Status != coordinator.Voting:
		// a late vote (the quorum has formed, or voting ended): nothing to count
		s.log.Debug("vote for a submission that is not voting dropped", "submission", v.Submission.Hex(), "member", v.Member.Hex(),
			"status", t.Status, "code", codes.LateVote.Name())
		return nil, nil
	case v.IDAO != t.Sub.IDAO:
		s.log.Warn("vote signed for another iDAO dropped", "submission", v.Submission.Hex(), "member", v.Member.Hex(),
			"code", codes.VoteOtherIDAO.Name())
		return nil, nil
	}
	if err := v.Verify(s.cfg.ChainID); err != nil {
		s.log.Warn("vote with a bad signature dropped", "submission", v.Submission.Hex(), "member", v.Member.Hex(),
			"code", codes.VoteBadSignature.Name(), "err", err)
		return nil, nil
	}
	dao := daos[v.IDAO]
	if dao == nil {
		var err error
		if dao, err = s.cfg.Chain.IDAO(ctx, v.IDAO); err != nil {
			return nil, fmt.Errorf("read iDAO %s: %w", v.IDAO, err)
		}
		daos[v.IDAO] = dao
	}
	stake := dao.StakeOf(v.Member)
	if stake == nil || stake.Sign() <= 0 {
		s.log.Warn("vote by a non-member dropped", "submission", v.Submission.Hex(), "member", v.Member.Hex(), "code", codes.VoteNotMember.Name())
		return nil, nil
	}
	return &store.CheckedVote{Vote: v, Stake: stake, Total: dao.TotalStake()}, nil
}

// maxCachedPolicies bounds the parsed TEE policies kept (one per iDAO
// policy version; the cache starts over past it).
const maxCachedPolicies = 4096

// teePolicy is an iDAO's parsed TEE policy, cached by the policy's bytes
// (results of one iDAO arrive by the thousand; its policy rarely changes).
func (s *Server) teePolicy(dao *coordinator.Registered) (tee.Policy, error) {
	raw := dao.Policy.TEEPolicy
	if p, ok := s.policies.Load(string(raw)); ok {
		return p.(tee.Policy), nil
	}
	if len(raw) == 0 || !json.Valid(raw) {
		return tee.Policy{}, fmt.Errorf("the TEE evidence cannot be checked: iDAO %s publishes no TEE policy", dao.Name)
	}
	p, err := tee.ParsePolicy(raw)
	if err != nil {
		return tee.Policy{}, fmt.Errorf("the TEE evidence cannot be checked: iDAO %s's TEE policy: %w", dao.Name, err)
	}
	if s.policyCount.Add(1) > maxCachedPolicies {
		s.policies.Clear()
		s.policyCount.Store(1)
	}
	s.policies.Store(string(raw), p)
	return p, nil
}
