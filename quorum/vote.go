package quorum

import (
	"crypto/ecdsa"
	"errors"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/signer/core/apitypes"

	"github.com/vsc-labs/vsc/internal/eip712"
)

// VoteTypeString is the EIP-712 type of a vote. A member signs one vote per
// submission; approve=false carries the reason it refused.
const VoteTypeString = "Vote(string idao,bytes32 submission,bytes32 resultDigest,bool approve,string reason)"

var voteTypeHash = crypto.Keccak256Hash([]byte(VoteTypeString))

// Errors callers branch on.
var (
	ErrBadSignature  = errors.New("quorum: bad vote signature")
	ErrNotMember     = errors.New("quorum: vote signed by a non-member, or by a member whose stake the QC does not count")
	ErrDuplicateVote = errors.New("quorum: a member's vote is counted twice")
	ErrWrongDigest   = errors.New("quorum: vote is for another submission or digest")
	ErrNoQuorum      = errors.New("quorum: approving stake is below 2/3 of the iDAO's stake")
	ErrNotEquivocal  = errors.New("quorum: votes are not an equivocation")
)

// Vote is one member's signed opinion on a submission's result digest.
type Vote struct {
	IDAO         string         `json:"idao"`
	Submission   common.Hash    `json:"submission"`
	ResultDigest common.Hash    `json:"result_digest"`
	Approve      bool           `json:"approve"`
	Reason       string         `json:"reason,omitempty"`
	Member       common.Address `json:"member"`
	Signature    hexutil.Bytes  `json:"signature"`
	// Batch is set when the signature signs a batch of votes (SignBatch)
	// rather than this vote alone.
	Batch *BatchProof `json:"batch,omitempty"`
}

// Digest returns the EIP-712 digest of the vote alone for chainID (what
// Sign signs; a batched vote's signature signs SignedDigest instead).
func (v *Vote) Digest(chainID uint64) common.Hash {
	return eip712.Digest(chainID, v.Leaf())
}

// TypedData returns the vote as eth_signTypedData_v4 input, so a wallet can
// sign it; its hash equals Digest.
func (v *Vote) TypedData(chainID uint64) eip712.TypedData {
	return eip712.TypedData{
		Types: apitypes.Types{
			"EIP712Domain": eip712.DomainType,
			"Vote": {
				{Name: "idao", Type: "string"},
				{Name: "submission", Type: "bytes32"},
				{Name: "resultDigest", Type: "bytes32"},
				{Name: "approve", Type: "bool"},
				{Name: "reason", Type: "string"},
			},
		},
		PrimaryType: "Vote",
		Domain:      eip712.Domain(chainID),
		Message: apitypes.TypedDataMessage{
			"idao":         v.IDAO,
			"submission":   v.Submission.Hex(),
			"resultDigest": v.ResultDigest.Hex(),
			"approve":      v.Approve,
			"reason":       v.Reason,
		},
	}
}

// Sign fills Member and Signature with key's signature for chainID.
func (v *Vote) Sign(key *ecdsa.PrivateKey, chainID uint64) error {
	sig, err := eip712.Sign(key, v.Digest(chainID))
	if err != nil {
		return err
	}
	v.Member = crypto.PubkeyToAddress(key.PublicKey)
	v.Signature, v.Batch = sig, nil
	return nil
}

// Recover returns the signer of the vote (alone or through its batch proof).
// It does not trust v.Member.
func (v *Vote) Recover(chainID uint64) (common.Address, error) {
	d, err := v.SignedDigest(chainID)
	if err != nil {
		return common.Address{}, fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	a, err := eip712.RecoverCached(d, v.Signature)
	if err != nil {
		return common.Address{}, fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	return a, nil
}

// Verify recovers the signer and checks it is v.Member.
func (v *Vote) Verify(chainID uint64) error {
	a, err := v.Recover(chainID)
	if err != nil {
		return err
	}
	if a != v.Member {
		return fmt.Errorf("%w: signed by %s, claims %s", ErrBadSignature, a, v.Member)
	}
	return nil
}

// CheckEquivocation proves that one member signed two different result
// digests for one submission of one iDAO, and returns that member.
func CheckEquivocation(a, b *Vote, chainID uint64) (common.Address, error) {
	if a.IDAO != b.IDAO || a.Submission != b.Submission || a.ResultDigest == b.ResultDigest || !a.Approve || !b.Approve {
		return common.Address{}, ErrNotEquivocal
	}
	sa, err := a.Recover(chainID)
	if err != nil {
		return common.Address{}, err
	}
	sb, err := b.Recover(chainID)
	if err != nil {
		return common.Address{}, err
	}
	if sa != sb {
		return common.Address{}, fmt.Errorf("%w: signers differ", ErrNotEquivocal)
	}
	return sa, nil
}

// QC is a quorum certificate: votes of an iDAO's members on one submission's
// result digest.
type QC struct {
	IDAO         string      `json:"idao"`
	Submission   common.Hash `json:"submission"`
	ResultDigest common.Hash `json:"result_digest"`
	Votes        []Vote      `json:"votes"`
}

// Hash identifies the QC: keccak256 over its subject and its votes'
// signatures in order.
func (q *QC) Hash() common.Hash {
	buf := make([]byte, 0, 96+len(q.IDAO)+65*len(q.Votes))
	buf = append(buf, crypto.Keccak256([]byte(q.IDAO))...)
	buf = append(buf, q.Submission[:]...)
	buf = append(buf, q.ResultDigest[:]...)
	for _, v := range q.Votes {
		buf = append(buf, v.Signature...)
	}
	return crypto.Keccak256Hash(buf)
}

// StakeSet is the iDAO membership a QC is checked against.
type StakeSet interface {
	// StakeOf returns a's voting stake, or nil if a is not a member.
	StakeOf(a common.Address) *big.Int
	// TotalStake returns the sum of all members' voting stake.
	TotalStake() *big.Int
}

// Signers recovers the signer of every vote, in order. Callers that
// recover in parallel pass the result to CheckQCSigners.
func (q *QC) Signers(chainID uint64) ([]common.Address, error) {
	out := make([]common.Address, len(q.Votes))
	for i := range q.Votes {
		a, err := q.Votes[i].Recover(chainID)
		if err != nil {
			return nil, fmt.Errorf("vote %d: %w", i, err)
		}
		out[i] = a
	}
	return out, nil
}

// CheckQC recovers every vote's signer and checks the QC: every vote is for
// the QC's iDAO, submission and digest and approves it, every signer is a
// member, no member is counted twice, and the approving stake reaches ⅔ of
// the total (Tally.Reached).
// It returns the approving stake.
func CheckQC(q *QC, chainID uint64, set StakeSet) (*big.Int, error) {
	signers, err := q.Signers(chainID)
	if err != nil {
		return nil, err
	}
	return CheckQCSigners(q, signers, set)
}

// CheckQCSigners is CheckQC with the signers already recovered.
func CheckQCSigners(q *QC, signers []common.Address, set StakeSet) (*big.Int, error) {
	if len(signers) != len(q.Votes) {
		return nil, fmt.Errorf("%w: %d signers for %d votes", ErrBadSignature, len(signers), len(q.Votes))
	}
	seen := make(map[common.Address]bool, len(signers))
	sum := new(big.Int)
	for i, v := range q.Votes {
		if v.IDAO != q.IDAO || v.Submission != q.Submission || v.ResultDigest != q.ResultDigest || !v.Approve {
			return nil, fmt.Errorf("vote %d: %w", i, ErrWrongDigest)
		}
		a := signers[i]
		if seen[a] {
			return nil, fmt.Errorf("vote %d by %s: %w", i, a, ErrDuplicateVote)
		}
		seen[a] = true
		st := set.StakeOf(a)
		if st == nil || st.Sign() == 0 {
			return nil, fmt.Errorf("vote %d by %s: %w", i, a, ErrNotMember)
		}
		sum.Add(sum, st)
	}
	total := set.TotalStake()
	if !(Tally{Approved: sum, Total: total}).Reached() {
		return nil, fmt.Errorf("%w: approving %s of %s", ErrNoQuorum, sum, total)
	}
	return sum, nil
}
