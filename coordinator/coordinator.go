package coordinator

import (
	"fmt"
	"net/http"

	"github.com/ethereum/go-ethereum/common"
)

// Status is a submission's state (CONTRACT.md).
type Status string

// Submission statuses.
const (
	Received   Status = "received"
	Verifying  Status = "verifying"
	Voting     Status = "voting"
	Certified  Status = "certified"
	Anchored   Status = "anchored"
	Minted     Status = "minted"
	Rejected   Status = "rejected"
	Failed     Status = "failed"
	Claimed    Status = "claimed"
	Challenged Status = "challenged"
	Finalized  Status = "finalized"
	Overturned Status = "overturned"
)

// Final reports whether no further transition can happen.
func (s Status) Final() bool {
	switch s {
	case Minted, Rejected, Failed, Overturned:
		return true
	}
	return false
}

// order ranks statuses along the happy path so transitions only move forward.
var order = map[Status]int{
	Received: 0, Verifying: 1, Claimed: 2, Challenged: 3, Finalized: 4,
	Voting: 5, Certified: 6, Anchored: 7, Minted: 8,
}

// CanMove reports whether a submission in from may move to to. Final states
// never change; otherwise a final state is always reachable, and forward
// moves along the happy path are allowed (never backwards, so a late or
// redelivered worker result cannot undo progress).
func CanMove(from, to Status) bool {
	if from.Final() || from == to {
		return false
	}
	if to.Final() && to != Minted {
		return true
	}
	return order[to] > order[from]
}

// Error is an API error: an HTTP status, a stable code callers may branch
// on, and one sentence saying what was wrong and what to do.
type Error struct {
	HTTP    int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"error"`
}

func (e *Error) Error() string { return e.Message }

// Errf builds an API error from the code table.
func Errf(code string, format string, args ...any) *Error {
	return &Error{HTTP: codes[code], Code: code, Message: fmt.Sprintf(format, args...)}
}

// codes maps each stable error code to its HTTP status.
var codes = map[string]int{
	"bad_request":        http.StatusBadRequest,
	"malformed_json":     http.StatusBadRequest,
	"missing_field":      http.StatusBadRequest,
	"invalid_field":      http.StatusBadRequest,
	"bad_signature":      http.StatusUnauthorized,
	"wrong_signer":       http.StatusUnauthorized,
	"unknown_idao":       http.StatusNotFound,
	"mode_not_accepted":  http.StatusUnprocessableEntity,
	"nonce_replayed":     http.StatusConflict,
	"nonce_gap":          http.StatusConflict,
	"data_hash_mismatch": http.StatusUnprocessableEntity,
	"blob_missing":       http.StatusUnprocessableEntity,
	"blob_too_large":     http.StatusRequestEntityTooLarge,
	"body_too_large":     http.StatusRequestEntityTooLarge,
	"blob_quota":         http.StatusInsufficientStorage,
	"rate_limited":       http.StatusTooManyRequests,
	"wrong_enclave_key":  http.StatusUnprocessableEntity,
	"not_found":          http.StatusNotFound,
	"already_exists":     http.StatusConflict,
	"forbidden":          http.StatusForbidden,
	"unavailable":        http.StatusServiceUnavailable,
	"internal":           http.StatusInternalServerError,
}

// Codes returns the error code table (for the OpenAPI document).
func Codes() map[string]int { return codes }

// AnchorInfo is where a certified result was anchored on chain.
type AnchorInfo struct {
	Block  uint64
	Tx     common.Hash
	QCHash common.Hash
}

// AnchorOutcome is what anchoring and minting one certified submission did:
// its anchor and DAT class, or why not (it is retried).
type AnchorOutcome struct {
	Info  *AnchorInfo
	Class common.Hash
	Err   error
}
