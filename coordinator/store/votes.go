package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/jackc/pgx/v5"

	"github.com/vsc-labs/vsc/coordinator"
	"github.com/vsc-labs/vsc/idao"
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
	rows, err := s.Pool.Query(ctx, `SELECT id, idao, mode, class, contributor, data_hash, commitment, records, fields, wrapped_key, nonce,
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
		if err := rows.Scan(&id, &sub.IDAO, &sub.Mode, &sub.Class, &contributor, &dataHash, &commitment, &records, &sub.Fields, &wrapped, &nonce,
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
		var kind idao.Kind
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

// LockSubmissions locks the submissions' rows in id order, at the start of a
// transaction that then changes them in any order: concurrent transactions
// that lock this way never deadlock.
func LockSubmissions(ctx context.Context, tx pgx.Tx, ids []common.Hash) error {
	list := make([][]byte, len(ids))
	for i := range ids {
		list[i] = ids[i].Bytes()
	}
	_, err := tx.Exec(ctx, `SELECT 1 FROM submissions WHERE id = ANY($1) ORDER BY id FOR UPDATE`, list)
	return err
}

// VoteGroup is one submission's checked votes of a batch.
type VoteGroup struct {
	ID    common.Hash
	Votes []CheckedVote
}

// ApplyVoteGroupsTx stores the checked votes of many submissions and counts
// each one's votes, in a few set-wide statements whatever the number of
// submissions: once approving stake for one digest reaches 2/3 of the total
// stake the submission is certified with that digest; once that can no
// longer happen it is rejected, with the refusing members' reasons. Votes are
// stored only while the submission is voting; a vote already stored
// (redelivered) or signed for another iDAO is ignored, except that a
// member's approval replaces its earlier refusal (a refusal never vetoes the
// member's own later approval). The submissions' rows are locked in id
// order, so concurrent batches never deadlock. outs[i] is groups[i]'s
// outcome.
func ApplyVoteGroupsTx(ctx context.Context, tx pgx.Tx, groups []VoteGroup) ([]VoteOutcome, error) {
	outs := make([]VoteOutcome, len(groups))
	if len(groups) == 0 {
		return outs, nil
	}
	subs, err := lockVotingRows(ctx, tx, groups)
	if err != nil {
		return nil, err
	}
	in, totals, err := votesToStore(groups, subs, outs)
	if err != nil {
		return nil, err
	}
	changed, err := insertVotes(ctx, tx, &in)
	if err != nil {
		return nil, err
	}
	if len(changed) == 0 {
		return outs, nil
	}
	tallies, err := readTallies(ctx, tx, changed)
	if err != nil {
		return nil, err
	}
	var cert certified
	b := &pgx.Batch{}
	for i, g := range groups {
		if !changed[g.ID] {
			continue
		}
		outs[i].Ignored = false
		t, total := tallies[g.ID], totals[g.ID]
		best, bestStake := t.best()
		count := quorum.Tally{Approved: bestStake, Voted: t.voted, Total: total}
		switch {
		case count.Reached():
			cert.add(g.ID, best, fmt.Sprintf("quorum certificate: %s of %s stake approved %s", bestStake, total, best.Hex()))
			outs[i].Certified, outs[i].Status, outs[i].Changed = best, coordinator.Certified, true
		case !count.Reachable():
			reason := "the quorum refused the evidence"
			if len(t.refusals) > 0 {
				reason += ": " + strings.Join(t.refusals, "; ")
			} else {
				reason = "members approved different result digests; none reached 2/3 of the stake"
			}
			queueMove(b, g.ID, coordinator.Rejected, reason)
			outs[i].Status, outs[i].Changed = coordinator.Rejected, true
		}
	}
	cert.queue(b)
	if b.Len() == 0 {
		return outs, nil
	}
	return outs, tx.SendBatch(ctx, b).Close()
}

// votingRow is what counting a submission's votes reads of its row.
type votingRow struct{ status, dao string }

// lockVotingRows locks the groups' submission rows in id order and reads
// their status and iDAO.
func lockVotingRows(ctx context.Context, tx pgx.Tx, groups []VoteGroup) (map[common.Hash]votingRow, error) {
	ids := make([][]byte, len(groups))
	for i := range groups {
		ids[i] = groups[i].ID.Bytes()
	}
	subs := map[common.Hash]votingRow{}
	rows, err := tx.Query(ctx, `SELECT id, status, idao FROM submissions WHERE id = ANY($1) ORDER BY id FOR UPDATE`, ids)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id []byte
		var r votingRow
		if err := rows.Scan(&id, &r.status, &r.dao); err != nil {
			return nil, err
		}
		subs[common.BytesToHash(id)] = r
	}
	return subs, rows.Err()
}

// votesToStore picks the votes of the groups to store: one per
// (submission, member), an approval over a refusal, only for submissions
// that are voting and only votes signed for their iDAO. It sets each
// group's outcome as ignored with its status (counting clears that), and
// returns each submission's total stake as its votes carry it.
func votesToStore(groups []VoteGroup, subs map[common.Hash]votingRow, outs []VoteOutcome) (voteColumns, map[common.Hash]*big.Int, error) {
	var in voteColumns
	totals := map[common.Hash]*big.Int{}
	for i, g := range groups {
		r, ok := subs[g.ID]
		outs[i].Ignored = true
		if !ok {
			continue
		}
		outs[i].Status = coordinator.Status(r.status)
		if outs[i].Status != coordinator.Voting {
			continue
		}
		best := map[common.Address]*CheckedVote{}
		var order []common.Address
		for j := range g.Votes {
			cv := &g.Votes[j]
			if v := cv.Vote; v.Submission != g.ID || v.IDAO != r.dao { // a vote signed for another iDAO cannot count here
				continue
			}
			totals[g.ID] = cv.Total
			prev := best[cv.Vote.Member]
			if prev == nil {
				order = append(order, cv.Vote.Member)
			}
			if prev == nil || (!prev.Vote.Approve && cv.Vote.Approve) {
				best[cv.Vote.Member] = cv
			}
		}
		for _, m := range order {
			if err := in.add(best[m]); err != nil {
				return in, nil, err
			}
		}
	}
	return in, totals, nil
}

// insertVotes stores the votes (a member's approval replaces its refusal)
// and returns the submissions whose stored votes changed.
func insertVotes(ctx context.Context, tx pgx.Tx, in *voteColumns) (map[common.Hash]bool, error) {
	changed := map[common.Hash]bool{}
	if len(in.sub) == 0 {
		return changed, nil
	}
	rows, err := tx.Query(ctx, `INSERT INTO votes AS v (submission, member, approve, result_digest, reason, stake, signature, counted, batch)
		SELECT u.sub, u.member, u.approve, u.digest, u.reason, u.stake::numeric, u.sig, false, u.batch::jsonb
		FROM unnest($1::bytea[], $2::bytea[], $3::bool[], $4::bytea[], $5::text[], $6::text[], $7::bytea[], $8::text[])
			AS u(sub, member, approve, digest, reason, stake, sig, batch)
		ON CONFLICT (submission, member) DO UPDATE SET approve = true, result_digest = EXCLUDED.result_digest, reason = NULL,
			stake = EXCLUDED.stake, signature = EXCLUDED.signature, batch = EXCLUDED.batch, received_at = now()
		WHERE NOT v.approve AND EXCLUDED.approve
		RETURNING v.submission`, in.sub, in.member, in.approve, in.digest, in.reason, in.stake, in.sig, in.batch)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id []byte
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		changed[common.BytesToHash(id)] = true
	}
	return changed, rows.Err()
}

// voteColumns are votes to insert, column by column (for unnest).
type voteColumns struct {
	sub, member, digest, sig [][]byte
	approve                  []bool
	reason, batch            []*string
	stake                    []string
}

func (c *voteColumns) add(cv *CheckedVote) error {
	v := cv.Vote
	var batch *string
	if v.Batch != nil {
		b, err := json.Marshal(v.Batch)
		if err != nil {
			return err
		}
		s := string(b)
		batch = &s
	}
	var reason *string
	if v.Reason != "" {
		r := v.Reason
		reason = &r
	}
	c.sub, c.member, c.digest, c.sig = append(c.sub, v.Submission.Bytes()), append(c.member, v.Member.Bytes()),
		append(c.digest, v.ResultDigest.Bytes()), append(c.sig, []byte(v.Signature))
	c.approve, c.reason, c.batch, c.stake = append(c.approve, v.Approve), append(c.reason, reason), append(c.batch, batch),
		append(c.stake, cv.Stake.String())
	return nil
}

// tally is a submission's stored votes, counted.
type tally struct {
	byDigest map[common.Hash]*big.Int
	voted    *big.Int
	refusals []string
}

// best is the digest with the most approving stake.
func (t *tally) best() (common.Hash, *big.Int) {
	var best common.Hash
	bestStake := new(big.Int)
	for d, st := range t.byDigest {
		if st.Cmp(bestStake) > 0 || (st.Cmp(bestStake) == 0 && bytes.Compare(d[:], best[:]) < 0) {
			best, bestStake = d, st
		}
	}
	return best, bestStake
}

// readTallies counts the stored votes of the submissions in one query.
func readTallies(ctx context.Context, tx pgx.Tx, ids map[common.Hash]bool) (map[common.Hash]*tally, error) {
	list := make([][]byte, 0, len(ids))
	out := make(map[common.Hash]*tally, len(ids))
	for id := range ids {
		list = append(list, id.Bytes())
		out[id] = &tally{byDigest: map[common.Hash]*big.Int{}, voted: new(big.Int)}
	}
	rows, err := tx.Query(ctx, `SELECT submission, approve, result_digest, stake::text, coalesce(reason,''), member
		FROM votes WHERE submission = ANY($1) ORDER BY submission, member`, list)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var approve bool
		var sub, digest, member []byte
		var st, reason string
		if err := rows.Scan(&sub, &approve, &digest, &st, &reason, &member); err != nil {
			return nil, err
		}
		t := out[common.BytesToHash(sub)]
		amt, _ := new(big.Int).SetString(st, 10)
		t.voted.Add(t.voted, amt)
		if approve {
			d := common.BytesToHash(digest)
			if t.byDigest[d] == nil {
				t.byDigest[d] = new(big.Int)
			}
			t.byDigest[d].Add(t.byDigest[d], amt)
		} else {
			t.refusals = append(t.refusals, fmt.Sprintf("%s: %s", common.BytesToAddress(member).Hex(), reason))
		}
	}
	return out, rows.Err()
}

// certified are submissions that reached a quorum certificate, recorded in
// three set-wide statements.
type certified struct {
	ids, digests [][]byte
	details      []string
}

func (c *certified) add(id, digest common.Hash, detail string) {
	c.ids, c.digests, c.details = append(c.ids, id.Bytes()), append(c.digests, digest.Bytes()), append(c.details, detail)
}

func (c *certified) queue(b *pgx.Batch) {
	if len(c.ids) == 0 {
		return
	}
	b.Queue(`UPDATE votes v SET counted = (v.approve AND v.result_digest = u.digest)
		FROM unnest($1::bytea[], $2::bytea[]) AS u(id, digest) WHERE v.submission = u.id`, c.ids, c.digests)
	b.Queue(`UPDATE submissions s SET status='certified', result_digest=u.digest, updated_at=now()
		FROM unnest($1::bytea[], $2::bytea[]) AS u(id, digest) WHERE s.id = u.id`, c.ids, c.digests)
	b.Queue(`INSERT INTO submission_events (submission, status, detail)
		SELECT u.id, 'certified', u.detail FROM unnest($1::bytea[], $2::text[]) AS u(id, detail)`, c.ids, c.details)
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
	rows, err := s.Pool.Query(ctx, `SELECT id, idao, mode, class, contributor, data_hash, commitment, records, fields, wrapped_key, nonce,
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
			&records, &sub.Fields, &wrapped, &nonce, &c.Signature, &digest); err != nil {
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
