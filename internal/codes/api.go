package codes

import (
	"net/http"
	"slices"
)

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

// The Web UI's reads and its event stream.
const (
	UnknownTopic Code = 1200 + iota
	EventsFull
)

// The coordinator's API: datasets and their zk shapes.
const (
	// NoZKShape: none of the iDAO's zk shapes fits the declared field count.
	NoZKShape Code = 1400 + iota
)

var coreAPICodes = []entry{
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
	{UnknownTopic, "unknown_topic", http.StatusBadRequest, "the event stream has no such topic"},
	{EventsFull, "events_full", http.StatusServiceUnavailable, "the event stream has as many subscribers as it serves"},
	{NoZKShape, "no_zk_shape", http.StatusUnprocessableEntity, "none of the iDAO's zk circuit shapes fits the dataset's field count"},
}

// APICodes returns the codes the coordinator's API answers with (1xxx), by
// number: the OpenAPI document's Error schema lists exactly these.
func APICodes() []Code {
	out := make([]Code, 0, len(apiCodes)+len(serviceAPICodes))
	for _, e := range apiCodes {
		out = append(out, e.code)
	}
	for _, e := range serviceAPICodes {
		out = append(out, e.code)
	}
	slices.Sort(out)
	return out
}

// The client's own checks (2xxx): refusals the SDK and the CLI make before
// they send anything, and answers they cannot read.
const (
	// HTTPError: an answer that is not an API error (a proxy's page, a
	// server of something else).
	HTTPError Code = 2000 + iota
	// NoTrustedSequencer: no sequencer to check the chain's proofs against.
	NoTrustedSequencer
	// WrongSequencer: chain state signed by another sequencer than the
	// trusted one.
	WrongSequencer
	// UnprovenChainState: chain state whose proof does not verify.
	UnprovenChainState
	// StaleChainState: chain state older than a block already seen.
	StaleChainState
	// NoTEEPolicy: no usable TEE policy to check the iDAO's enclave against.
	NoTEEPolicy
	// SimulationPolicy: a TEE policy that accepts simulated enclaves, not
	// allowed by the contributor.
	SimulationPolicy
	// EnclaveNotRegistered: the enclave key is not registered on chain.
	EnclaveNotRegistered
	// EnclaveAttestation: the enclave key's attestation is refused.
	EnclaveAttestation
)

// The client's own checks: datasets.
const (
	// ZKShapeMissing: the client found no zk shape of the iDAO for the
	// dataset's field count, and uploaded nothing.
	ZKShapeMissing Code = 2400 + iota
)

var clientCodes = []entry{
	{HTTPError, "http_error", http.StatusBadGateway, "the answer is not an API error"},
	{NoTrustedSequencer, "no_trusted_sequencer", http.StatusBadRequest, "no trusted sequencer to check the chain's proofs against"},
	{WrongSequencer, "wrong_sequencer", http.StatusBadGateway, "the chain state is signed by another sequencer than the trusted one"},
	{UnprovenChainState, "unproven_chain_state", http.StatusBadGateway, "the chain state's proof does not verify"},
	{StaleChainState, "stale_chain_state", http.StatusBadGateway, "the chain state is older than a block already seen"},
	{NoTEEPolicy, "no_tee_policy", http.StatusUnprocessableEntity, "there is no usable TEE policy to check the enclave against"},
	{SimulationPolicy, "simulation_policy", http.StatusUnprocessableEntity, "the TEE policy accepts simulated enclaves"},
	{EnclaveNotRegistered, "enclave_not_registered", http.StatusUnprocessableEntity, "the enclave key is not registered on chain"},
	{EnclaveAttestation, "enclave_attestation", http.StatusUnprocessableEntity, "the enclave key's attestation is refused"},
	{ZKShapeMissing, "zk_shape_missing", http.StatusUnprocessableEntity, "the iDAO has no zk shape for the dataset's field count"},
}
