package codes

import "net/http"

// The coordinator's API (1xxx).
const (
	BadRequest Code = 1000 + iota
	MalformedJSON
	MissingField
	InvalidField
	BadSignature
	WrongSigner
	UnknownIDAO
	ModeNotAccepted
	NonceReplayed
	NonceGap
	DataHashMismatch
	BlobMissing
	BlobTooLarge
	BodyTooLarge
	BlobQuota
	RateLimited
	WrongEnclaveKey
	NotFound
	AlreadyExists
	Forbidden
	Unavailable
	Internal
)

var apiCodes = []entry{
	{BadRequest, "bad_request", http.StatusBadRequest, "the request is malformed"},
	{MalformedJSON, "malformed_json", http.StatusBadRequest, "the body is not valid JSON for this endpoint"},
	{MissingField, "missing_field", http.StatusBadRequest, "a required field is missing"},
	{InvalidField, "invalid_field", http.StatusBadRequest, "a field's value is not allowed"},
	{BadSignature, "bad_signature", http.StatusUnauthorized, "the signature is malformed"},
	{WrongSigner, "wrong_signer", http.StatusUnauthorized, "the signature is not the signer's it must be"},
	{UnknownIDAO, "unknown_idao", http.StatusNotFound, "there is no such iDAO"},
	{ModeNotAccepted, "mode_not_accepted", http.StatusUnprocessableEntity, "the iDAO does not accept this mode"},
	{NonceReplayed, "nonce_replayed", http.StatusConflict, "the nonce was already used"},
	{NonceGap, "nonce_gap", http.StatusConflict, "the nonce skips ahead"},
	{DataHashMismatch, "data_hash_mismatch", http.StatusUnprocessableEntity, "the blob does not hash to the signed data hash"},
	{BlobMissing, "blob_missing", http.StatusUnprocessableEntity, "the blob is not stored"},
	{BlobTooLarge, "blob_too_large", http.StatusRequestEntityTooLarge, "the blob is over the size limit"},
	{BodyTooLarge, "body_too_large", http.StatusRequestEntityTooLarge, "the request body is over its limit"},
	{BlobQuota, "blob_quota", http.StatusInsufficientStorage, "blobs waiting for their submission fill their quota"},
	{RateLimited, "rate_limited", http.StatusTooManyRequests, "too many requests from this client"},
	{WrongEnclaveKey, "wrong_enclave_key", http.StatusUnprocessableEntity, "the data key was wrapped to another enclave key"},
	{NotFound, "not_found", http.StatusNotFound, "no such thing"},
	{AlreadyExists, "already_exists", http.StatusConflict, "it exists already"},
	{Forbidden, "forbidden", http.StatusForbidden, "not allowed"},
	{Unavailable, "unavailable", http.StatusServiceUnavailable, "a service this needs is not reachable"},
	{Internal, "internal", http.StatusInternalServerError, "an internal error"},
}

// The client's own checks (2xxx): refusals the SDK and the CLI make before
// they send anything.
var clientCodes = []entry{}
