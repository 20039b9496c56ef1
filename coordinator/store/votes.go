package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/jackc/pgx/v5"

	"github.com/vsc-labs/vsc/coordinator"
	"github.com/vsc-labs/vsc/internal/submission"
	"github.com/vsc-labs/vsc/quorum"
)

// voteRequestTx assembles, inside tx, the vote request members verify: the
// signed submission and every evidence row's data, chunks in order.
func voteRequestTx(ctx context.Context, tx pgx.Tx, id common.Hash) (*quorum.VoteRequest, error) {
	req := &quorum.VoteRequest{SubmissionID: id}
	s := &req.Submission
	var contributor, dataHash, commitment, wrapped []byte
	var records, nonce, chainID int64
	err := tx.QueryRow(ctx, `SELECT idao, mode, class, contributor, data_hash, commitment, records, wrapped_key, nonce,
		signature, chain_id FROM submissions WHERE id=$1`, id[:]).Scan(&s.IDAO, &s.Mode, &s.Class, &contributor, &dataHash,
		&commitment, &records, &wrapped, &nonce, (*[]byte)(&req.Signature), &chainID)
	if err != nil {
		return nil, err
	}
	s.Contributor, s.DataHash, s.Commitment = common.BytesToAddress(contributor), common.BytesToHash(dataHash), common.BytesToHash(commitment)
	s.Records, s.Nonce, s.WrappedKeyHash = uint64(records), uint64(nonce), keccak(wrapped)
	req.IDAO, req.ChainID = s.IDAO, uint64(chainID)
	rows, err := tx.Query(ctx, `SELECT kind, data FROM evidence WHERE submission=$1 ORDER BY kind, chunk`, id[:])
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var kind string
		var data []byte
		if err := rows.Scan(&kind, &data); err != nil {
			return nil, err
		}
		if n := len(req.Evidence); n == 0 || req.Evidence[n-1].Kind != kind {
			req.Evidence = append(req.Evidence, quorum.EvidenceItem{Kind: kind})
		}
		last := &req.Evidence[len(req.Evidence)-1]
		last.Data = append(last.Data, json.RawMessage(data))
	}
	return req, rows.Err()
}

// enqueueVoteRequest writes the vote request to the outbox (kind "vote").
func enqueueVoteRequest(ctx context.Context, tx pgx.Tx, id common.Hash) error {
	req, err := voteRequestTx(ctx, tx, id)
	if err != nil {
		return fmt.Errorf("vote request for %s: %w", id.Hex(), err)
	}
	payload, err := json.Marshal(req)
	if err != nil {
		return err
	}
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO outbox (submission, msg_id, kind, payload) VALUES ($1,$2,'vote',$3) ON CONFLICT (msg_id) DO NOTHING`,
		id[:], id.Hex()+"/vote-request", payload)
	b.Queue(`UPDATE submissions SET voting_since=now() WHERE id=$1`, id[:])
	return tx.SendBatch(ctx, b).Close()
}

// VoteOutcome says what a vote did.
type VoteOutcome struct {
	Status    coordinator.Status
	Changed   bool
	Ignored   bool // duplicate, or the submission is past voting
	Certified common.Hash
}

// ApplyVoteTx stores a checked vote (signature and membership verified by the
// caller, stake read from the chain) and counts the submission's votes: once
// approving stake for one digest reaches 2/3 of totalStake the submission is
// certified with that digest; once that can no longer happen it is
// rejected, with the refusing members' reasons.
func ApplyVoteTx(ctx context.Context, tx pgx.Tx, v *quorum.Vote, stake, totalStake *big.Int) (VoteOutcome, error) {
	var out VoteOutcome
	var status, dao string
	if err := tx.QueryRow(ctx, `SELECT status, idao FROM submissions WHERE id=$1 FOR UPDATE`, v.Submission[:]).Scan(&status, &dao); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			out.Ignored = true
			return out, nil
		}
		return out, err
	}
	if dao != v.IDAO { // a vote signed for another iDAO cannot count here
		out.Ignored = true
		return out, nil
	}
	out.Status = coordinator.Status(status)
	var batch []byte
	if v.Batch != nil {
		var err error
		if batch, err = json.Marshal(v.Batch); err != nil {
			return out, err
		}
	}
	tag, err := tx.Exec(ctx, `INSERT INTO votes (submission, member, approve, result_digest, reason, stake, signature, counted, batch)
		VALUES ($1,$2,$3,$4,$5,$6::numeric,$7,false,$8) ON CONFLICT (submission, member) DO NOTHING`,
		v.Submission[:], v.Member[:], v.Approve, v.ResultDigest[:], nullText(v.Reason), stake.String(), []byte(v.Signature), nullJSON(batch))
	if err != nil {
		return out, err
	}
	if tag.RowsAffected() == 0 || out.Status != coordinator.Voting {
		out.Ignored = true
		return out, nil
	}
	rows, err := tx.Query(ctx, `SELECT approve, result_digest, stake::text, coalesce(reason,''), member FROM votes WHERE submission=$1`, v.Submission[:])
	if err != nil {
		return out, err
	}
	byDigest := map[common.Hash]*big.Int{}
	voted := new(big.Int)
	var refusals []string
	for rows.Next() {
		var approve bool
		var digest, member []byte
		var st, reason string
		if err := rows.Scan(&approve, &digest, &st, &reason, &member); err != nil {
			rows.Close()
			return out, err
		}
		amt, _ := new(big.Int).SetString(st, 10)
		voted.Add(voted, amt)
		if approve {
			d := common.BytesToHash(digest)
			if byDigest[d] == nil {
				byDigest[d] = new(big.Int)
			}
			byDigest[d].Add(byDigest[d], amt)
		} else {
			refusals = append(refusals, fmt.Sprintf("%s: %s", common.BytesToAddress(member).Hex(), reason))
		}
	}
	rows.Close()
	var best common.Hash
	bestStake := new(big.Int)
	for d, st := range byDigest {
		if st.Cmp(bestStake) > 0 {
			best, bestStake = d, st
		}
	}
	twoThirds := func(x *big.Int) bool { // 3x ≥ 2·total
		return new(big.Int).Mul(x, big.NewInt(3)).Cmp(new(big.Int).Mul(totalStake, big.NewInt(2))) >= 0
	}
	switch {
	case twoThirds(bestStake):
		b := &pgx.Batch{}
		b.Queue(`UPDATE votes SET counted = (approve AND result_digest = $2) WHERE submission=$1`, v.Submission[:], best[:])
		b.Queue(`UPDATE submissions SET result_digest=$2 WHERE id=$1`, v.Submission[:], best[:])
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return out, err
		}
		out.Certified = best
		return moveOut(ctx, tx, v.Submission, coordinator.Certified,
			fmt.Sprintf("quorum certificate: %s of %s stake approved %s", bestStake, totalStake, best.Hex()), out)
	case !twoThirds(new(big.Int).Add(bestStake, new(big.Int).Sub(totalStake, voted))):
		reason := "the quorum refused the evidence"
		if len(refusals) > 0 {
			reason += ": " + strings.Join(refusals, "; ")
		} else {
			reason = "members approved different result digests; none reached 2/3 of the stake"
		}
		return moveOut(ctx, tx, v.Submission, coordinator.Rejected, reason, out)
	}
	return out, nil
}

func moveOut(ctx context.Context, tx pgx.Tx, id common.Hash, to coordinator.Status, reason string, out VoteOutcome) (VoteOutcome, error) {
	if err := moveTx(ctx, tx, id, to, reason); err != nil {
		return out, err
	}
	out.Status, out.Changed = to, true
	return out, nil
}

// Votes returns the stored votes of a submission.
func (s *Store) Votes(ctx context.Context, id common.Hash) ([]quorum.Vote, []bool, []string, error) {
	rows, err := s.Pool.Query(ctx, `SELECT member, approve, result_digest, coalesce(reason,''), signature, counted, stake::text, batch
		FROM votes WHERE submission=$1 ORDER BY member`, id[:])
	if err != nil {
		return nil, nil, nil, err
	}
	defer rows.Close()
	var votes []quorum.Vote
	var counted []bool
	var stakes []string
	for rows.Next() {
		var member, digest, sig, batch []byte
		var v quorum.Vote
		var c bool
		var st string
		if err := rows.Scan(&member, &v.Approve, &digest, &v.Reason, &sig, &c, &st, &batch); err != nil {
			return nil, nil, nil, err
		}
		if batch != nil {
			v.Batch = new(quorum.BatchProof)
			if err := json.Unmarshal(batch, v.Batch); err != nil {
				return nil, nil, nil, fmt.Errorf("vote of %s: batch proof: %w", common.BytesToAddress(member).Hex(), err)
			}
		}
		v.Submission, v.Member, v.ResultDigest, v.Signature = id, common.BytesToAddress(member), common.BytesToHash(digest), sig
		votes, counted, stakes = append(votes, v), append(counted, c), append(stakes, st)
	}
	return votes, counted, stakes, rows.Err()
}

// Pending lists submissions in a status, oldest first.
func (s *Store) Pending(ctx context.Context, status coordinator.Status, limit int) ([]common.Hash, error) {
	return s.hashes(ctx, `SELECT id FROM submissions WHERE status=$1 ORDER BY updated_at LIMIT $2`, string(status), limit)
}

// VotingOverdue lists submissions voting since before t.
func (s *Store) VotingOverdue(ctx context.Context, t time.Time, limit int) ([]common.Hash, error) {
	return s.hashes(ctx, `SELECT id FROM submissions WHERE status='voting' AND voting_since < $1 LIMIT $2`, t, limit)
}

// Certificate is what the anchor tx needs about a certified submission.
type Certificate struct {
	ID           common.Hash
	Submission   submission.Submission
	ResultDigest common.Hash
	Votes        []quorum.Vote // the counted votes
}

// Certificate loads a certified submission with its counted votes.
func (s *Store) Certificate(ctx context.Context, id common.Hash) (*Certificate, error) {
	c := &Certificate{ID: id}
	var contributor, dataHash, commitment, digest []byte
	var records, nonce int64
	sub := &c.Submission
	err := s.Pool.QueryRow(ctx, `SELECT idao, mode, class, contributor, data_hash, commitment, records, nonce, result_digest
		FROM submissions WHERE id=$1`, id[:]).Scan(&sub.IDAO, &sub.Mode, &sub.Class, &contributor, &dataHash, &commitment,
		&records, &nonce, &digest)
	if err != nil {
		return nil, err
	}
	sub.Contributor, sub.DataHash, sub.Commitment = common.BytesToAddress(contributor), common.BytesToHash(dataHash), common.BytesToHash(commitment)
	sub.Records, sub.Nonce, c.ResultDigest = uint64(records), uint64(nonce), common.BytesToHash(digest)
	votes, counted, _, err := s.Votes(ctx, id)
	if err != nil {
		return nil, err
	}
	for i, v := range votes {
		if counted[i] {
			v.IDAO = sub.IDAO
			c.Votes = append(c.Votes, v)
		}
	}
	return c, nil
}

// SetAnchored records the anchor and moves certified → anchored.
func (s *Store) SetAnchored(ctx context.Context, id common.Hash, block uint64, txHash, qcHash common.Hash) error {
	return s.Tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE submissions SET anchor_block=$2, anchor_tx=$3, qc_hash=$4 WHERE id=$1 AND status='certified'`,
			id[:], int64(block), txHash[:], qcHash[:])
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		return moveTx(ctx, tx, id, coordinator.Anchored, fmt.Sprintf("anchored in block %d, tx %s", block, txHash.Hex()))
	})
}

// SetMinted records the DAT class and moves anchored → minted.
func (s *Store) SetMinted(ctx context.Context, id common.Hash, datID string) error {
	return s.Tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE submissions SET dat_id=$2 WHERE id=$1 AND status='anchored'`, id[:], datID)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		return moveTx(ctx, tx, id, coordinator.Minted, "DAT class "+datID+" minted to the contributor")
	})
}

// NonVoters returns the members of members that have not voted on id.
func (s *Store) NonVoters(ctx context.Context, id common.Hash, members []common.Address) ([]common.Address, error) {
	votes, _, _, err := s.Votes(ctx, id)
	if err != nil {
		return nil, err
	}
	voted := map[common.Address]bool{}
	for _, v := range votes {
		voted[v.Member] = true
	}
	var out []common.Address
	for _, m := range members {
		if !voted[m] {
			out = append(out, m)
		}
	}
	return out, nil
}

// OptimisticInFlight lists optimistic submissions still waiting on their claim.
func (s *Store) OptimisticInFlight(ctx context.Context, limit int) ([]common.Hash, error) {
	return s.hashes(ctx, `SELECT id FROM submissions WHERE mode='optimistic'
		AND status IN ('received','verifying','claimed','challenged') LIMIT $1`, limit)
}

// hashes runs a query whose rows are single 32-byte ids.
func (s *Store) hashes(ctx context.Context, sql string, args ...any) ([]common.Hash, error) {
	rows, err := s.Pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (common.Hash, error) {
		var b []byte
		err := r.Scan(&b)
		return common.BytesToHash(b), err
	})
}
