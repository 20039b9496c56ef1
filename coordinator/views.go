package coordinator

import (
	"encoding/json"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/internal/submission"
)

// SubmitRequest is the JSON part of POST /v1/submissions.
type SubmitRequest struct {
	Submission submission.Submission `json:"submission"`
	Signature  hexutil.Bytes         `json:"signature"`
	WrappedKey hexutil.Bytes         `json:"wrapped_key"`
	// EnclaveKey is the enclave public key the data key was wrapped to; the
	// coordinator refuses a key wrapped to anything but the iDAO's current one.
	EnclaveKey hexutil.Bytes `json:"enclave_key,omitempty"`
}

// BlockEvent is the data of an event stream's "blocks" event.
type BlockEvent struct {
	Height uint64      `json:"height"`
	Hash   common.Hash `json:"hash"`
	Time   uint64      `json:"time"` // unix milliseconds
	Txs    uint32      `json:"txs"`
	Kinds  []string    `json:"kinds,omitempty"` // the kinds of its txs, each once
}

// SubmissionSummary is one row of GET /v1/submissions (newest first).
type SubmissionSummary struct {
	ID          string         `json:"id"`
	Status      Status         `json:"status"`
	IDAO        string         `json:"idao"`
	Mode        idao.Mode      `json:"mode"`
	Contributor common.Address `json:"contributor"`
	Records     uint64         `json:"records"`
	DATID       *string        `json:"dat_id"`
	CreatedAt   time.Time      `json:"created_at"`
	UpdatedAt   time.Time      `json:"updated_at"`
}

// SubmissionList is a page of GET /v1/submissions.
type SubmissionList struct {
	Submissions []SubmissionSummary `json:"submissions"`
	Next        string              `json:"next,omitempty"`
}

// SubmissionView is what `vsc submit --json` and `vsc status --json` print.
type SubmissionView struct {
	ID          string         `json:"id"`
	Status      Status         `json:"status"`
	IDAO        string         `json:"idao"`
	Mode        idao.Mode      `json:"mode"`
	Class       string         `json:"class"`
	Contributor common.Address `json:"contributor"`
	DataHash    common.Hash    `json:"data_hash"`
	Commitment  common.Hash    `json:"commitment"`
	Records     uint64         `json:"records"`
	Fields      uint32         `json:"fields"`
	Nonce       uint64         `json:"nonce"`
	// WrappedKey is the data key wrapped to the enclave (only an attested
	// enclave can unwrap it): watchers read the data through it.
	WrappedKey   hexutil.Bytes  `json:"wrapped_key,omitempty"`
	Evidence     []EvidenceView `json:"evidence"`
	Votes        []VoteView     `json:"votes"`
	Anchor       *AnchorView    `json:"anchor"`
	DATID        *string        `json:"dat_id"`
	ResultDigest *common.Hash   `json:"result_digest,omitempty"`
	QCHash       *common.Hash   `json:"qc_hash,omitempty"`
	Reason       *string        `json:"reason"`
	CreatedAt    time.Time      `json:"created_at"`
	UpdatedAt    time.Time      `json:"updated_at"`
	History      []EventView    `json:"history,omitempty"`
}

// EvidenceView is one kind of evidence and its progress.
type EvidenceView struct {
	Kind   idao.Kind         `json:"kind"`
	Status string            `json:"status"`
	Reason string            `json:"reason,omitempty"`
	Chunks int               `json:"chunks"`
	Done   int               `json:"done"`
	Data   []json.RawMessage `json:"data,omitempty"`
}

// VoteView is one quorum member's vote.
type VoteView struct {
	Member       common.Address `json:"member"`
	Stake        string         `json:"stake"`
	Approve      bool           `json:"approve"`
	Counted      bool           `json:"counted"` // in the certificate (false: refused, or another digest)
	ResultDigest common.Hash    `json:"result_digest"`
	Reason       string         `json:"reason,omitempty"`
	Signature    hexutil.Bytes  `json:"signature"`
}

// AnchorView is where a result was anchored on chain.
type AnchorView struct {
	Block uint64      `json:"block"`
	Tx    common.Hash `json:"tx"`
}

// EventView is one status change.
type EventView struct {
	Status Status    `json:"status"`
	Detail string    `json:"detail,omitempty"`
	At     time.Time `json:"at"`
}

// IDAOView describes an iDAO.
type IDAOView struct {
	Name        string          `json:"name"`
	Policy      idao.Mode       `json:"policy"`
	Modes       []idao.Mode     `json:"modes"`
	Owner       common.Address  `json:"owner"`
	Members     []MemberView    `json:"members"`
	Stake       string          `json:"stake"`
	EnclaveKey  *EnclaveKey     `json:"enclave_key,omitempty"`
	PolicyExtra json.RawMessage `json:"policy_config,omitempty"`
	// MinGroupSize is the privacy floor of the iDAO's data services.
	MinGroupSize uint64 `json:"min_group_size"`
	// ZKShapes are the zk circuit shapes the iDAO accepts (empty: none).
	ZKShapes []idao.ZKShape `json:"zk_shapes"`
}

// IDAOSummary is one row of `vsc idao list --json`.
type IDAOSummary struct {
	Name    string      `json:"name"`
	Policy  idao.Mode   `json:"policy"`
	Modes   []idao.Mode `json:"modes"`
	Members int         `json:"members"`
	Stake   string      `json:"stake"`
}

// IDAOList is a page of GET /v1/idaos (and `vsc idao list --json`, which
// follows every page and prints no next).
type IDAOList struct {
	IDAOs []IDAOSummary `json:"idaos"`
	// Next is the cursor of the following page; empty on the last one.
	Next string `json:"next,omitempty"`
}

// MemberView is one member and its stake.
type MemberView struct {
	Address common.Address `json:"address"`
	Stake   string         `json:"stake"`
}

// EnclaveKey is the iDAO's attested enclave public key (uncompressed
// secp256k1) and its attestation report, as the TEE backend produced it.
type EnclaveKey struct {
	PublicKey hexutil.Bytes   `json:"public_key"`
	Report    json.RawMessage `json:"report,omitempty"`
}

// AccountView is an account's coordinator-side state.
type AccountView struct {
	Address   common.Address `json:"address"`
	NextNonce uint64         `json:"next_nonce"`
}
