package server

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/coordinator"
	"github.com/vsc-labs/vsc/coordinator/store"
	"github.com/vsc-labs/vsc/idao"
)

// Chain is what the coordinator needs of the chain: iDAOs (members, stake,
// policy) and the anchor and mint of certified results. AnchorAndMint must
// be idempotent (the chain link reads back what is already there).
type Chain interface {
	IDAO(ctx context.Context, name string) (*idao.IDAO, error)
	// AnchorAndMint anchors and mints certified submissions (in batches,
	// one block each); outcome i is certs[i]'s.
	AnchorAndMint(ctx context.Context, certs []*store.Certificate) []coordinator.AnchorOutcome
	// OpenClaims maps submissions to the status ("claimed", "challenged") of
	// their undecided optimistic claims.
	OpenClaims(ctx context.Context) (map[common.Hash]string, error)
}

func (s *Server) wakeFinisher() {
	select {
	case s.finishKick <- struct{}{}:
	default:
	}
}

// finisher anchors certified submissions and mints their DATs, fails
// overdue votes and shows claims, while this coordinator holds the
// finisher lease (lease.go). Every step is idempotent, so after a crash,
// here or in another coordinator, it simply runs again.
func (s *Server) finisher(ctx context.Context) {
	tick := time.NewTicker(s.cfg.RelayPoll)
	defer tick.Stop()
	for {
		if s.Leader() {
			s.anchorCertified(ctx)
			s.expireVotes(ctx)
			s.syncClaims(ctx)
		}
		select {
		case <-ctx.Done():
			return
		case <-s.finishKick:
		case <-tick.C:
		}
	}
}

// anchorCertified anchors and mints up to 2048 certified submissions: their
// certificates are loaded in one go, sent in anchor-batch txs, and what
// landed is recorded in one statement.
func (s *Server) anchorCertified(ctx context.Context) {
	ids, err := s.store.ToAnchor(ctx, 2048)
	if err == nil && len(ids) > 0 {
		err = s.anchorMany(ctx, ids)
	}
	if err != nil && ctx.Err() == nil {
		s.log.Warn("finisher: anchor and mint; will retry", "err", err)
	}
}

func (s *Server) anchorMany(ctx context.Context, ids []common.Hash) error {
	certs, err := s.store.Certificates(ctx, ids)
	if err != nil {
		return err
	}
	var landed []store.Finished
	for i, o := range s.cfg.Chain.AnchorAndMint(ctx, certs) {
		if o.Err != nil {
			if ctx.Err() == nil {
				s.log.Warn("anchor and mint failed; will retry", "submission", certs[i].ID, "err", o.Err)
			}
			continue
		}
		landed = append(landed, store.Finished{ID: certs[i].ID, Block: o.Info.Block, Tx: o.Info.Tx, QCHash: o.Info.QCHash, Class: o.Class.Hex()})
	}
	n, err := s.store.SetFinished(ctx, landed)
	if err != nil {
		return err
	}
	s.m.transitions.WithLabelValues(string(coordinator.Anchored)).Add(float64(n))
	s.m.transitions.WithLabelValues(string(coordinator.Minted)).Add(float64(n))
	return nil
}

// expireVotes fails submissions whose quorum did not form in time, naming
// the members that did not answer.
func (s *Server) expireVotes(ctx context.Context) {
	ids, err := s.store.VotingOverdue(ctx, time.Now().Add(-s.cfg.VoteTimeout), 256)
	if err != nil || len(ids) == 0 {
		return
	}
	for _, id := range ids {
		v, err := s.store.GetSubmission(ctx, id, false)
		if err != nil {
			continue
		}
		dao, err := s.cfg.Chain.IDAO(ctx, v.IDAO)
		if err != nil {
			continue
		}
		var members []common.Address
		for _, m := range dao.Members {
			members = append(members, m.Addr)
		}
		missing, err := s.store.NonVoters(ctx, id, members)
		if err != nil {
			continue
		}
		names := make([]string, len(missing))
		for i, m := range missing {
			names[i] = m.Hex()
		}
		reason := fmt.Sprintf("no quorum within %s: members %s did not answer", s.cfg.VoteTimeout, strings.Join(names, ", "))
		if err := s.store.Move(ctx, id, coordinator.Failed, reason); err == nil {
			s.m.transitions.WithLabelValues(string(coordinator.Failed)).Inc()
			s.log.Warn("submission failed", "id", id, "reason", reason)
		}
	}
}

// syncClaims shows an optimistic submission's claim on chain in its status:
// claimed while its window is open, challenged while a game is undecided.
// (finalized is recorded when the executor reports the claim final, and
// overturned when it reports the loss.)
func (s *Server) syncClaims(ctx context.Context) {
	ids, err := s.store.OptimisticInFlight(ctx, 1024)
	if err != nil || len(ids) == 0 {
		return
	}
	open, err := s.cfg.Chain.OpenClaims(ctx)
	if err != nil {
		return
	}
	for _, id := range ids {
		st, ok := open[id]
		if !ok {
			continue
		}
		to := coordinator.Status(st)
		if to != coordinator.Claimed && to != coordinator.Challenged {
			continue
		}
		if err := s.store.Move(ctx, id, to, "optimistic claim "+st+" on chain"); err == nil {
			s.m.transitions.WithLabelValues(st).Inc()
		}
	}
}
