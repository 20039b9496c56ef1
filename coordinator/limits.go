package coordinator

import (
	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/internal/envelope"
	"github.com/vsc-labs/vsc/internal/page"
	"github.com/vsc-labs/vsc/internal/records"
)

// Limits of the HTTP API. Every input from outside is bounded by one of
// these (or by a configured limit, see LimitTable), checked before any work
// or storage; a request over one gets a 4xx whose sentence names the limit
// as LimitTable spells it. The OpenAPI document states each value under
// "x-vsc-limits" and in the schemas (maxLength, maximum), and a test checks
// that it states the current ones.
const (
	// MaxIDAONameBytes bounds an iDAO name (the chain's rule: 1–64 of
	// a-z, 0-9, '-', '_', starting with a letter or digit).
	MaxIDAONameBytes = 64
	// MaxModeBytes bounds a submission's mode ("tee+zk" is the longest).
	MaxModeBytes = 16
	// MaxClassBytes bounds a submission's class ("dataset" or "model").
	MaxClassBytes = 16
	// SignatureSize is the exact length of a signature: r ‖ s ‖ v.
	SignatureSize = 65
	// WrappedKeySize is the exact length of wrapped_key: the ECIES wrap the
	// client's envelope produces, and nothing else.
	WrappedKeySize = envelope.WrappedKeySize
	// EnclaveKeySize is the exact length of enclave_key: an uncompressed
	// secp256k1 public key.
	EnclaveKeySize = 65
	// MaxRecords bounds a submission's records; records must also fit the
	// blob (MaxRecordsIn).
	MaxRecords = records.MaxRecords
	// MaxFields bounds a submission's declared field count (at least 1).
	MaxFields = records.MaxFields
	// MaxJobsPerSubmission bounds the verification jobs one submission
	// makes: one per zk chunk, one for each other kind of its mode.
	MaxJobsPerSubmission = 1024
	// MaxSubmitJSONBytes bounds the JSON of a submit request: the whole
	// body, or its "submission" part. An honest one is under 1 KiB.
	MaxSubmitJSONBytes = 8 << 10
	// MaxMultipartParts bounds the parts of a multipart submit body: a
	// "submission" and a "blob", each at most once; any other part is refused.
	MaxMultipartParts = 2
	// MaxMultipartOverhead bounds what a multipart body holds besides its
	// parts' contents: boundaries and part headers.
	MaxMultipartOverhead = 4 << 10
	// MaxPathParamBytes bounds a path parameter (an id, a hash, a name).
	MaxPathParamBytes = 128
	// MaxPageLimit bounds the limit of a list request.
	MaxPageLimit = page.MaxLimit
	// DefaultPageLimit is a list request's limit when it sets none.
	DefaultPageLimit = page.DefaultLimit
	// MaxSearchBytes bounds a search query (GET /v1/search?q=; the longest
	// thing it names is a 0x-prefixed 32-byte hash).
	MaxSearchBytes = 128
	// MaxEventSubscribers bounds the open event streams (GET /v1/events)
	// of one coordinator; one more is refused with events_full.
	MaxEventSubscribers = 256
	// MaxEventTopics bounds the topics one event stream asks for.
	MaxEventTopics = 8
	// EventBuffer is the events queued for one subscriber; a subscriber
	// that falls this far behind is told so and its stream is closed (it
	// reconnects and reloads).
	EventBuffer = 256
	// EventHeartbeatSeconds is how often an idle event stream sends a
	// comment line, so proxies and browsers keep it open.
	EventHeartbeatSeconds = 15
)

// MaxRecordsIn is the most records a blob of size bytes can hold: its
// plaintext is size − envelope.BlobOverhead bytes, and every record takes
// at least two of them (records.MaxInPlaintext).
func MaxRecordsIn(size int64) uint64 {
	return records.MaxInPlaintext(size - envelope.BlobOverhead)
}

// LimitTable is every fixed limit by the name the OpenAPI document
// (x-vsc-limits) and the refusals use.
func LimitTable() map[string]int64 {
	return map[string]int64{
		"max_idao_name_bytes":      MaxIDAONameBytes,
		"max_mode_bytes":           MaxModeBytes,
		"max_class_bytes":          MaxClassBytes,
		"signature_bytes":          SignatureSize,
		"wrapped_key_bytes":        WrappedKeySize,
		"enclave_key_bytes":        EnclaveKeySize,
		"max_records":              MaxRecords,
		"max_jobs_per_submission":  MaxJobsPerSubmission,
		"max_submit_json_bytes":    MaxSubmitJSONBytes,
		"max_multipart_parts":      MaxMultipartParts,
		"max_multipart_overhead":   MaxMultipartOverhead,
		"max_path_param_bytes":     MaxPathParamBytes,
		"max_page_limit":           MaxPageLimit,
		"default_page_limit":       DefaultPageLimit,
		"max_job_json_bytes":       MaxJobJSONBytes,
		"max_query_bytes":          MaxQueryBytes,
		"max_job_units":            MaxJobUnits,
		"max_job_deadline_seconds": MaxJobDeadline,
		"max_job_wait_seconds":     MaxJobWait,
		"blob_part_bytes":          BlobPartSize,
		"max_job_waiters":          MaxJobWaiters,
		"max_search_bytes":         MaxSearchBytes,
		"max_job_list_limit":       MaxJobListLimit,
		"answer_key_bytes":         AnswerKeySize,
		"max_event_subscribers":    MaxEventSubscribers,
		"max_event_topics":         MaxEventTopics,
		"event_buffer":             EventBuffer,
		"event_heartbeat_seconds":  EventHeartbeatSeconds,
		"max_fields":               MaxFields,
	}
}

// BlobPartSize is the size of every part but the last of a blob uploaded
// in parts (PUT /v1/blobs/{hash}/parts/{n}), so an upload cut short
// resumes at the first missing part.
const BlobPartSize = 8 << 20

// BlobParts is how many parts a blob of size bytes is uploaded in.
func BlobParts(size int64) int { return int((size + BlobPartSize - 1) / BlobPartSize) }

// PartsView is GET /v1/blobs/{hash}/parts: the parts of an upload held.
type PartsView struct {
	DataHash common.Hash `json:"data_hash"`
	Size     int64       `json:"size"`
	PartSize int64       `json:"part_size"`
	Parts    int         `json:"parts"`
	Have     []int       `json:"have"`
	Stored   bool        `json:"stored"` // the blob itself is stored: nothing to upload
}
