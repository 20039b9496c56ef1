package coordinator

import (
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/vsc-labs/vsc/dat"
	"github.com/vsc-labs/vsc/dat/escrow"
	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/internal/jobreq"
)

// Limits of the jobs API (POST /v1/jobs).
const (
	// MaxJobJSONBytes bounds a job request's JSON body.
	MaxJobJSONBytes = 16 << 10
	// MaxQueryBytes bounds a job's query text.
	MaxQueryBytes = 4 << 10
	// MaxJobUnits bounds the units one job may spend.
	MaxJobUnits = 1 << 32
	// MaxJobDeadline bounds how far ahead (seconds) a job's deadline may be.
	MaxJobDeadline = 7 * 24 * 3600
	// MaxJobWait bounds how long (seconds) GET /v1/jobs/{id}?wait= holds a
	// request waiting for the job to move.
	MaxJobWait = 30
	// MaxJobWaiters bounds the requests one coordinator holds waiting for
	// jobs to move; more answer at once, as without ?wait.
	MaxJobWaiters = 4096
	// AnswerKeySize is the exact length of a job's answer_key.key: a
	// compressed secp256k1 public key (its signature is SignatureSize).
	AnswerKeySize = jobreq.AnswerKeySize
)

// JobRequestBody is POST /v1/jobs: the app's signed request and its
// query, and optionally an answer key the app bound to the request (the
// answer is then encrypted to it instead of the app's account key).
type JobRequestBody struct {
	Request   jobreq.Request    `json:"request"`
	Signature hexutil.Bytes     `json:"signature"`
	Query     string            `json:"query"`
	AnswerKey *jobreq.AnswerKey `json:"answer_key,omitempty"`
}

// Job statuses (`vsc job show`).
const (
	JobRequested = "requested"
	JobRunning   = "running"
	JobDelivered = "delivered"
	JobSettled   = "settled"
	JobExpired   = "expired"
	JobFailed    = "failed"
)

// JobSettlement is where a job was settled.
type JobSettlement struct {
	Tx    common.Hash `json:"tx"`
	Block uint64      `json:"block"`
}

// JobView is GET /v1/jobs/{id} (and `vsc job show --json`): the job, its
// status and, once delivered, its answer (encrypted to the app).
type JobView struct {
	Job        common.Hash    `json:"job"`
	Status     string         `json:"status"`
	Class      common.Hash    `json:"class"`
	Token      common.Hash    `json:"token"`
	App        common.Address `json:"app"`
	Provider   common.Address `json:"provider"`
	IDAO       string         `json:"idao"`
	Units      uint64         `json:"units"`
	MaxFee     string         `json:"max_fee"`
	Fee        *string        `json:"fee"`
	Nonce      uint64         `json:"nonce"`
	Deadline   uint64         `json:"deadline"`
	ResultHash *common.Hash   `json:"result_hash"`
	Settlement *JobSettlement `json:"settlement"`
	Reason     *string        `json:"reason"`
	Code       *string        `json:"code,omitempty"`
	Answer     *jobreq.Answer `json:"answer,omitempty"`
}

// JobFacts are the chain facts a job is checked against before it is
// routed; a nil field is absent on chain.
type JobFacts struct {
	Now      uint64 // the chain's time, unix seconds
	Token    *dat.Token
	Class    *dat.Class
	IDAO     *idao.IDAO
	Provider *escrow.Provider
	Attested bool
	Escrow   *escrow.Account
}

// MaxJobListLimit bounds a page of GET /v1/jobs?class= (each row reads
// its settlement from the chain).
const MaxJobListLimit = 100

// JobSummary is one job of GET /v1/jobs?class=.
type JobSummary struct {
	Job       common.Hash    `json:"job"`
	Status    string         `json:"status"`
	App       common.Address `json:"app"`
	Provider  common.Address `json:"provider"`
	Units     uint64         `json:"units"`
	MaxFee    string         `json:"max_fee"`
	Fee       *string        `json:"fee"`
	Deadline  uint64         `json:"deadline"`
	CreatedAt time.Time      `json:"created_at"`
}

// JobList is GET /v1/jobs?class=: a class's jobs on this coordinator,
// newest first.
type JobList struct {
	Jobs []JobSummary `json:"jobs"`
	Next string       `json:"next,omitempty"`
}
