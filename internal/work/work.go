// Package work holds the messages of verification work: the Job the
// coordinator routes to a worker, the Result a worker (or a member, for
// votes) answers with and the digest it signs, and the refusal that marks a
// message as never to be handled. It is pure (no NATS, no database): the
// bus carries these messages, the coordinator's store keeps jobs in its
// outbox, and the workers and members read and write them.
package work

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/internal/codes"
	"github.com/vsc-labs/vsc/internal/submission"
)

// VoteKind is the kind of a member's vote message on the results stream.
// It is not a verification kind (idao.Kinds does not list it): no job has
// it, and only members publish under it.
const VoteKind idao.Kind = "vote"

// Job is one unit of verification work.
type Job struct {
	ID           string                `json:"id"`
	Kind         idao.Kind             `json:"kind"`
	ChainID      uint64                `json:"chain_id"`
	SubmissionID common.Hash           `json:"submission_id"`
	Submission   submission.Submission `json:"submission"`
	Signature    hexutil.Bytes         `json:"signature"`
	WrappedKey   hexutil.Bytes         `json:"wrapped_key"`
	Chunk        int                   `json:"chunk,omitempty"`
	Chunks       int                   `json:"chunks,omitempty"`
	ChunkSize    int                   `json:"chunk_size,omitempty"`
	// VKHash names the registered zk shape intake picked for the
	// submission's field count (zero: the iDAO registers no shapes).
	VKHash common.Hash `json:"vk_hash,omitzero"`
}

// JobID is the ID of the job of kind for a submission: every chunk of a zk
// submission shares it (MsgID tells them apart).
func JobID(submission common.Hash, kind idao.Kind) string {
	return submission.Hex() + "/" + string(kind)
}

// MsgID is the job's JetStream dedupe id.
func (j *Job) MsgID() string { return fmt.Sprintf("%s/%d", j.ID, j.Chunk) }

// DecodeJob decodes a job message; a message that is not one is refused
// for good (codes.UndecodableJob).
func DecodeJob(data []byte) (Job, error) {
	var j Job
	if err := json.Unmarshal(data, &j); err != nil {
		return j, Refuse(codes.UndecodableJob, fmt.Errorf("undecodable job: %w", err))
	}
	return j, nil
}

// Result is a worker's answer to a job. Workers' results are signed by the
// worker (Signer, Signature over Digest); the coordinator believes no
// result whose signer is not the key its iDAO names.
type Result struct {
	JobID        string          `json:"job_id"`
	Kind         idao.Kind       `json:"kind"`
	SubmissionID common.Hash     `json:"submission_id"`
	Chunk        int             `json:"chunk,omitempty"`
	OK           bool            `json:"ok"`
	Rejected     bool            `json:"rejected,omitempty"`
	Overturned   bool            `json:"overturned,omitempty"` // with Rejected: an optimistic claim lost a dispute
	Reason       string          `json:"reason,omitempty"`
	Evidence     json.RawMessage `json:"evidence,omitempty"`
	Worker       string          `json:"worker,omitempty"`
	Signer       common.Address  `json:"signer,omitempty"`
	Signature    hexutil.Bytes   `json:"signature,omitempty"`
}

// DecodeResult decodes a result message; a message that is not one is
// refused for good (codes.UndecodableResult).
func DecodeResult(data []byte) (Result, error) {
	var r Result
	if err := json.Unmarshal(data, &r); err != nil {
		return r, Refuse(codes.UndecodableResult, fmt.Errorf("undecodable result: %w", err))
	}
	return r, nil
}

var resultDomain = []byte("vsc-bus-result-v1")

// Digest is what a worker signs for a result: every field but the
// signature, each length-prefixed, the evidence in its canonical JSON form
// (compact, as encoding/json writes it), so the digest survives the trip
// over the bus.
func (r *Result) Digest() common.Hash {
	var b bytes.Buffer
	b.Write(resultDomain)
	str := func(s []byte) {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(s)))
		b.Write(n[:])
		b.Write(s)
	}
	str([]byte(r.JobID))
	str([]byte(r.Kind))
	b.Write(r.SubmissionID[:])
	var chunk [8]byte
	binary.BigEndian.PutUint64(chunk[:], uint64(int64(r.Chunk)))
	b.Write(chunk[:])
	var flags byte
	for i, f := range []bool{r.OK, r.Rejected, r.Overturned} {
		if f {
			flags |= 1 << i
		}
	}
	b.WriteByte(flags)
	str([]byte(r.Reason))
	str(canonicalJSON(r.Evidence))
	str([]byte(r.Worker))
	b.Write(r.Signer[:])
	return crypto.Keccak256Hash(b.Bytes())
}

// MsgID is a result's JetStream dedupe id, given its digest d: a
// redelivered job's identical result is dropped, and no publisher can
// squat another's id (it holds the content's digest).
func (r *Result) MsgID(d common.Hash) string {
	return fmt.Sprintf("%s/%d/%x", r.JobID, r.Chunk, d[:8])
}

// canonicalJSON is raw as encoding/json re-encodes a RawMessage (compact,
// HTML-escaped); raw itself when it is not JSON.
func canonicalJSON(raw []byte) []byte {
	if len(raw) == 0 {
		return nil
	}
	if alreadyCanonical(raw) {
		return raw // what a worker signs and what arrives over the bus: no copy
	}
	var c, h bytes.Buffer
	if json.Compact(&c, raw) != nil {
		return raw
	}
	json.HTMLEscape(&h, c.Bytes())
	return h.Bytes()
}

// alreadyCanonical reports whether json.Compact and json.HTMLEscape would
// leave raw as it is: no whitespace outside strings, nothing HTMLEscape
// rewrites. (For input that is not JSON the answer does not matter:
// canonicalJSON returns such input unchanged either way.)
func alreadyCanonical(raw []byte) bool {
	inString, escaped := false, false
	for i, c := range raw {
		switch {
		case c == '<' || c == '>' || c == '&':
			return false
		case c == 0xE2 && i+2 < len(raw) && raw[i+1] == 0x80 && (raw[i+2] == 0xA8 || raw[i+2] == 0xA9):
			return false // U+2028, U+2029
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			return false
		}
	}
	return true
}

// ErrPermanent marks a message that can never be handled (undecodable,
// forged, refused): the bus terminates it with its reason at once, and the
// coordinator's outbox sets such a job aside instead of retrying it.
var ErrPermanent = errors.New("message refused")

// Permanent marks err as ErrPermanent (nil stays nil).
func Permanent(err error) error {
	if err == nil || errors.Is(err, ErrPermanent) {
		return err
	}
	return &permanent{error: err}
}

// Refuse is Permanent with a failure code (5xxx, such as
// codes.UnsignedResult), logged with the message's termination.
func Refuse(code codes.Code, err error) error {
	if err == nil {
		return nil
	}
	return &permanent{error: err, code: code}
}

// RefusalCode is the code Refuse gave err (codes.OK if none).
func RefusalCode(err error) codes.Code {
	var p *permanent
	if errors.As(err, &p) {
		return p.code
	}
	return codes.OK
}

type permanent struct {
	error
	code codes.Code
}

func (p *permanent) Unwrap() []error { return []error{p.error, ErrPermanent} }
