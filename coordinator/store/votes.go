package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/jackc/pgx/v5"

	"github.com/vsc-labs/vsc/coordinator"
	"github.com/vsc-labs/vsc/internal/submission"
	"github.com/vsc-labs/vsc/quorum"
)

// VoteRequests assembles the vote requests members verify — each signed
// submission with every evidence row's data, chunks in order — for many
// submissions in two queries. Submissions not found are left out.
func (s *Store) VoteRequests(ctx context.Context, ids []common.Hash) ([]*quorum.VoteRequest, error) {
	keys := make([][]byte, len(ids))
	for i := range ids {
		keys[i] = ids[i][:]
	}
	rows, err := s.Pool.Query(ctx, `SELECT id, idao, mode, class, contributor, data_hash, commitment, records, wrapped_key, nonce,
		signature, chain_id FROM submissions WHERE id = ANY($1)`, keys)
	if err != nil {
		return nil, err
	}
	byID := map[common.Hash]*quorum.VoteRequest{}
	var out []*quorum.VoteRequest
	for rows.Next() {
		req := new(quorum.VoteRequest)
		sub := &req.Submission
		var id, contributor, dataHash, commitment, wrapped []byte
		var records, nonce, chainID int64
		if err := rows.Scan(&id, &sub.IDAO, &sub.Mode, &sub.Class, &contributor, &dataHash, &commitment, &records, &wrapped, &nonce,
			(*[]byte)(&req.Signature), &chainID); err != nil {
			rows.Close()
			return nil, err
		}
		req.SubmissionID = common.BytesToHash(id)
		sub.Contributor, sub.DataHash, sub.Commitment = common.BytesToAddress(contributor), common.BytesToHash(dataHash), common.BytesToHash(commitment)
		sub.Records, sub.Nonce, sub.WrappedKeyHash = uint64(records), uint64(nonce), keccak(wrapped)
		req.IDAO, req.ChainID = sub.IDAO, uint64(chainID)
		byID[req.SubmissionID] = req
		out = append(out, req)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows, err = s.Pool.Query(ctx, `SELECT submission, kind, data FROM evidence WHERE submission = ANY($1)
		ORDER BY submission, kind, chunk`, keys)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id []byte
		var kind string
		var data []byte
		if err := rows.Scan(&id, &kind, &data); err != nil {
			return nil, err
		}
		req := byID[common.BytesToHash(id)]
		if n := len(req.Evidence); n == 0 || req.Evidence[n-1].Kind != kind {
			req.Evidence = append(req.Evidence, quorum.EvidenceItem{Kind: kind})
		}
		last := &req.Evidence[len(req.Evidence)-1]
		last.Data = append(last.Data, json.RawMessage(data))
	}
	return out, rows.Err()
}

// queueVoteRequest queues, on b, the outbox row of a submission's vote
// request (kind "vote"; the relay assembles the request itself when it
// publishes). The voting clock starts with the move to voting (queueMove).
func queueVoteRequest(b *pgx.Batch, id common.Hash) {
	b.Queue(`INSERT INTO outbox (submission, msg_id, kind, payload) VALUES ($1, $2, 'vote', '{}')
		ON CONFLICT (msg_id) DO NOTHING`, id[:], id.Hex()+"/vote-request")
}

// VoteOutcome says what a vote did.
type VoteOutcome struct {
	Status    coordinator.Status
	Changed   bool
	Ignored   bool // duplicate, or the submission is past voting
	Certified common.Hash
}

// CheckedVote is a vote whose signature and signer's stake the caller
// checked (stake and the iDAO's total stake are read from the chain).
type CheckedVote struct {
	Vote         *quorum.Vote
	Stake, Total *big.Int
}

// ApplyVotesTx stores checked votes on one submission and counts its votes:
// once approving stake for one digest reaches 2/3 of totalStake the
// submission is certified with that digest; once that can no longer happen
// it is rejected, with the refusing members' reasons. Votes are stored only
// while the submission is voting; a vote already stored (redelivered) or
// signed for another iDAO is ignored, except that a member's approval
// replaces its earlier refusal (a refusal never vetoes the member's own
// later approval).
func ApplyVotesTx(ctx context.Context, tx pgx.Tx, id common.Hash, votes []CheckedVote) (VoteOutcome, error) {
	var out VoteOutcome
	var status, dao string
	if err := tx.QueryRow(ctx, `SELECT status, idao FROM submissions WHERE id=$1 FOR UPDATE`, id[:]).Scan(&status, &dao); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			out.Ignored = true
			return out, nil
		}
		return out, err
	}
	out.Status = coordinator.Status(status)
	if out.Status != coordinator.Voting {
		out.Ignored = true
		return out, nil
	}
	b := &pgx.Batch{}
	var totalStake *big.Int
	for _, cv := range votes {
		v := cv.Vote
		if v.Submission != id || v.IDAO != dao { // a vote signed for another iDAO cannot count here
			continue
		}
		totalStake = cv.Total
		var batch []byte
		if v.Batch != nil {
			var err error
			if batch, err = json.Marshal(v.Batch); err != nil {
				return out, err
			}
		}
		b.Queue(`INSERT INTO votes AS v (submission, member, approve, result_digest, reason, stake, signature, counted, batch)
			VALUES ($1,$2,$3,$4,$5,$6::numeric,$7,false,$8)
			ON CONFLICT (submission, member) DO UPDATE SET approve = true, result_digest = EXCLUDED.result_digest, reason = NULL,
				stake = EXCLUDED.stake, signature = EXCLUDED.signature, batch = EXCLUDED.batch, received_at = now()
			WHERE NOT v.approve AND EXCLUDED.approve`,
			v.Submission[:], v.Member[:], v.Approve, v.ResultDigest[:], nullText(v.Reason), cv.Stake.String(),
			[]byte(v.Signature), nullJSON(batch))
	}
	inserted := int64(0)
	br := tx.SendBatch(ctx, b)
	for range b.Len() {
		tag, err := br.Exec()
		if err != nil {
			br.Close()
			return out, err
		}
		inserted += tag.RowsAffected()
	}
	if err := br.Close(); err != nil {
		return out, err
	}
	if inserted == 0 {
		out.Ignored = true
		return out, nil
	}
	rows, err := tx.Query(ctx, `SELECT approve, result_digest, stake::text, coalesce(reason,''), member FROM votes WHERE submission=$1`, id[:])
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
		b.Queue(`UPDATE votes SET counted = (approve AND result_digest = $2) WHERE submission=$1`, id[:], best[:])
		b.Queue(`UPDATE submissions SET status='certified', result_digest=$2, updated_at=now() WHERE id=$1`, id[:], best[:])
		b.Queue(`INSERT INTO submission_events (submission, status, detail) VALUES ($1,'certified',$2)`, id[:],
			fmt.Sprintf("quorum certificate: %s of %s stake approved %s", bestStake, totalStake, best.Hex()))
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return out, err
		}
		out.Certified, out.Status, out.Changed = best, coordinator.Certified, true
		return out, nil
	case !twoThirds(new(big.Int).Add(bestStake, new(big.Int).Sub(totalStake, voted))):
		reason := "the quorum refused the evidence"
		if len(refusals) > 0 {
			reason += ": " + strings.Join(refusals, "; ")
		} else {
			reason = "members approved different result digests; none reached 2/3 of the stake"
		}
		return moveOut(ctx, tx, id, coordinator.Rejected, reason, out)
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
		if err := scanVote(&v, id, member, digest, sig, batch); err != nil {
			return nil, nil, nil, err
		}
		votes, counted, stakes = append(votes, v), append(counted, c), append(stakes, st)
	}
	return votes, counted, stakes, rows.Err()
}

// ToAnchor lists certified submissions (and any an older version left
// anchored but not minted), oldest first.
func (s *Store) ToAnchor(ctx context.Context, limit int) ([]common.Hash, error) {
	return s.hashes(ctx, `SELECT id FROM submissions WHERE status IN ('certified','anchored') ORDER BY updated_at LIMIT $1`, limit)
}

// VotingOverdue lists submissions voting since before t.
func (s *Store) VotingOverdue(ctx context.Context, t time.Time, limit int) ([]common.Hash, error) {
	return s.hashes(ctx, `SELECT id FROM submissions WHERE status='voting' AND voting_since < $1 LIMIT $2`, t, limit)
}

// Certificate is what the anchor tx needs about a certified submission:
// the contributor's signed submission and signature (the chain takes the
// contributor from them), the digest and the counted votes.
type Certificate struct {
	ID           common.Hash
	Submission   submission.Submission
	Signature    []byte // the contributor's EIP-712 signature of Submission
	ResultDigest common.Hash
	Votes        []quorum.Vote // the counted votes
}

// Certificates loads submissions with their counted votes, in two queries;
// ids not found are left out.
func (s *Store) Certificates(ctx context.Context, ids []common.Hash) ([]*Certificate, error) {
	keys := make([][]byte, len(ids))
	for i := range ids {
		keys[i] = ids[i][:]
	}
	rows, err := s.Pool.Query(ctx, `SELECT id, idao, mode, class, contributor, data_hash, commitment, records, wrapped_key, nonce,
		signature, result_digest FROM submissions WHERE id = ANY($1)`, keys)
	if err != nil {
		return nil, err
	}
	byID := map[common.Hash]*Certificate{}
	var out []*Certificate
	for rows.Next() {
		c := new(Certificate)
		var id, contributor, dataHash, commitment, wrapped, digest []byte
		var records, nonce int64
		sub := &c.Submission
		if err := rows.Scan(&id, &sub.IDAO, &sub.Mode, &sub.Class, &contributor, &dataHash, &commitment,
			&records, &wrapped, &nonce, &c.Signature, &digest); err != nil {
			rows.Close()
			return nil, err
		}
		c.ID = common.BytesToHash(id)
		sub.Contributor, sub.DataHash, sub.Commitment = common.BytesToAddress(contributor), common.BytesToHash(dataHash), common.BytesToHash(commitment)
		sub.Records, sub.Nonce, sub.WrappedKeyHash = uint64(records), uint64(nonce), keccak(wrapped)
		c.ResultDigest = common.BytesToHash(digest)
		byID[c.ID] = c
		out = append(out, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows, err = s.Pool.Query(ctx, `SELECT submission, member, approve, result_digest, signature, batch
		FROM votes WHERE submission = ANY($1) AND counted ORDER BY submission, member`, keys)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id, member, digest, sig, batch []byte
		var v quorum.Vote
		if err := rows.Scan(&id, &member, &v.Approve, &digest, &sig, &batch); err != nil {
			return nil, err
		}
		c := byID[common.BytesToHash(id)]
		if err := scanVote(&v, c.ID, member, digest, sig, batch); err != nil {
			return nil, err
		}
		v.IDAO = c.Submission.IDAO
		c.Votes = append(c.Votes, v)
	}
	return out, rows.Err()
}

// scanVote fills v from its stored columns.
func scanVote(v *quorum.Vote, id common.Hash, member, digest, sig, batch []byte) error {
	v.Submission, v.Member, v.ResultDigest, v.Signature = id, common.BytesToAddress(member), common.BytesToHash(digest), sig
	if batch != nil {
		v.Batch = new(quorum.BatchProof)
		if err := json.Unmarshal(batch, v.Batch); err != nil {
			return fmt.Errorf("vote of %s: batch proof: %w", v.Member.Hex(), err)
		}
	}
	return nil
}

// Finished is a certified submission anchored and minted on chain.
type Finished struct {
	ID         common.Hash
	Block      uint64
	Tx, QCHash common.Hash
	Class      string
}

// SetFinished records the anchors and DAT classes of many submissions at
// once and moves each certified or anchored one to minted (with an anchored
// and a minted event in its history), in one statement. It returns how many
// moved; submissions in other states are left alone.
func (s *Store) SetFinished(ctx context.Context, fs []Finished) (int, error) {
	if len(fs) == 0 {
		return 0, nil
	}
	fs = slices.Clone(fs)
	slices.SortFunc(fs, func(a, b Finished) int { return bytes.Compare(a.ID[:], b.ID[:]) }) // lock order
	ids, txs, qcs := make([][]byte, len(fs)), make([][]byte, len(fs)), make([][]byte, len(fs))
	blocks, classes := make([]int64, len(fs)), make([]string, len(fs))
	for i := range fs {
		ids[i], txs[i], qcs[i], blocks[i], classes[i] = fs[i].ID[:], fs[i].Tx[:], fs[i].QCHash[:], int64(fs[i].Block), fs[i].Class
	}
	var n int
	err := s.Pool.QueryRow(ctx, `WITH u AS (
			SELECT * FROM unnest($1::bytea[], $2::bigint[], $3::bytea[], $4::bytea[], $5::text[]) AS u(id, block, tx, qc, dat)),
		prev AS (
			SELECT s.id, s.status FROM submissions s JOIN u ON s.id = u.id
			WHERE s.status IN ('certified', 'anchored') ORDER BY s.id FOR UPDATE OF s),
		upd AS (
			UPDATE submissions s SET anchor_block = coalesce(s.anchor_block, u.block), anchor_tx = coalesce(s.anchor_tx, u.tx),
				qc_hash = coalesce(s.qc_hash, u.qc), dat_id = u.dat, status = 'minted', reason = NULL, updated_at = now()
			FROM u JOIN prev ON prev.id = u.id WHERE s.id = u.id RETURNING s.id),
		ev AS (
			INSERT INTO submission_events (submission, status, detail)
			SELECT u.id, 'anchored', format('anchored in block %s, tx 0x%s', u.block, encode(u.tx, 'hex'))
				FROM u JOIN prev ON prev.id = u.id WHERE prev.status = 'certified'
			UNION ALL
			SELECT u.id, 'minted', 'DAT class ' || u.dat || ' minted to the contributor'
				FROM u JOIN prev ON prev.id = u.id)
		SELECT count(*) FROM upd`, ids, blocks, txs, qcs, classes).Scan(&n)
	return n, err
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
