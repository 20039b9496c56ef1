package tee

import (
	"errors"
	"fmt"
	"io"
	"regexp"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/internal/envelope"
	"github.com/vsc-labs/vsc/internal/merkle"
	"github.com/vsc-labs/vsc/internal/records"
	"github.com/vsc-labs/vsc/internal/submission"
	"github.com/vsc-labs/vsc/tee/facts"
)

// Job is one submission for the enclave to check.
type Job struct {
	ChainID    uint64
	Submission submission.Submission
	WrappedKey []byte // ECIES-wrapped data key (hash signed in the submission)
	Blob       []byte // the ciphertext, fetched by data_hash
	// Stream, when Blob is nil, is the ciphertext as a stream: the enclave
	// decrypts, parses, commits and computes the facts as it reads, in
	// bounded memory, and checks data_hash at its end.
	Stream io.Reader
}

// Outcome statuses.
const (
	StatusVerified = "verified" // the data matches the submission; Evidence says so
	StatusRejected = "rejected" // the data contradicts the submission; Reason says how
)

// Outcome is the enclave's verdict on a Job. Evidence is set when the
// enclave got as far as computing the commitment and facts: always when
// verified, and when rejected for a commitment or record-count mismatch (so
// the rejection itself is attested and checkable with VerifyEvidence, which
// then returns ErrCommitment or ErrRecordCount).
type Outcome struct {
	Status   string
	Reason   string
	Evidence *Evidence
}

func rejected(format string, args ...any) *Outcome {
	return &Outcome{Status: StatusRejected, Reason: fmt.Sprintf(format, args...)}
}

// ErrWrongEnclaveKey: the data key is wrapped to another enclave key. It is
// not proof of a lie (the client may hold a key that was since replaced, or
// another worker of the same verifier set holds it), so it is an error, not
// a rejection: the job is retried elsewhere, then fails with this reason.
var ErrWrongEnclaveKey = errors.New("tee: the data key is not wrapped to this enclave's key")

// ErrJobInputs: the blob or wrapped key handed to the enclave is not the one
// the submission signed. The coordinator checks both at intake, so this is
// a fault of the storage or the job, not of the data: an error, not a rejection.
var ErrJobInputs = errors.New("tee: job inputs do not match the signed submission")

// Process does the whole enclave-side job: it checks the wrapped key's hash
// and data_hash, unwraps the data key, decrypts, parses, recomputes the
// commitment and the facts, and returns signed, attested evidence. Problems
// with the data (it lies about its commitment or count, does not decrypt or
// does not parse) are a rejected Outcome; an error means this enclave could
// not do the job (ErrJobInputs, ErrWrongEnclaveKey, attestation failed) and
// the job may be retried.
//
// The plaintext never leaves this function: it is not logged, not written,
// and its buffer is cleared before returning.
func (e *Enclave) Process(j Job) (*Outcome, error) {
	outs, errs := e.ProcessBatch([]Job{j})
	return outs[0], errs[0]
}

// ProcessBatch is Process for many jobs with one attestation: the results'
// digests are the leaves of a Merkle tree whose root (with the batch size)
// the enclave attests and signs once, and each evidence carries its path
// (Evidence.Batch). outs[i] or errs[i] is set for each job.
func (e *Enclave) ProcessBatch(jobs []Job) (outs []*Outcome, errs []error) {
	outs, errs = make([]*Outcome, len(jobs)), make([]error, len(jobs))
	var attest []int
	for i := range jobs {
		outs[i], errs[i] = e.check(&jobs[i])
		if outs[i] != nil && outs[i].Evidence != nil {
			attest = append(attest, i)
		}
	}
	if len(attest) == 0 {
		return outs, errs
	}
	evs := make([]*Evidence, len(attest))
	for k, i := range attest {
		evs[k] = outs[i].Evidence
	}
	if err := e.attest(evs); err != nil {
		for _, i := range attest {
			outs[i], errs[i] = nil, err
		}
	}
	return outs, errs
}

// check runs one job up to the attestation: the outcome's evidence, when
// set, holds the computed result but is not yet attested or signed.
func (e *Enclave) check(j *Job) (*Outcome, error) {
	sub := &j.Submission
	if j.Blob == nil && j.Stream != nil {
		return e.checkStream(j)
	}
	if crypto.Keccak256Hash(j.WrappedKey) != sub.WrappedKeyHash {
		return nil, fmt.Errorf("%w: the wrapped data key does not hash to the submission's wrapped_key_hash %s", ErrJobInputs, sub.WrappedKeyHash.Hex())
	}
	if crypto.Keccak256Hash(j.Blob) != sub.DataHash {
		return nil, fmt.Errorf("%w: the ciphertext does not hash to the submission's data_hash %s", ErrJobInputs, sub.DataHash.Hex())
	}
	// envelope.Open without its second keccak pass over the blob (checked above).
	dataKey, err := envelope.Unwrap(j.WrappedKey, sub.DataHash, e.key)
	if err != nil {
		return nil, fmt.Errorf("%w %s (another worker's key, or a key replaced since the client fetched it)", ErrWrongEnclaveKey, e.Address().Hex())
	}
	plain, err := envelope.Decrypt(dataKey, j.Blob)
	clear(dataKey)
	if err != nil {
		return rejected("the ciphertext does not decrypt: %v", err), nil
	}
	ds, err := records.Parse(plain)
	clear(plain)
	if err != nil {
		return rejected("the decrypted dataset is invalid%s (the enclave never echoes plaintext: check the file with `vsc submit`, which parses it before encrypting)", parseErrorPlace(err)), nil
	}
	commitment := records.Commitment(ds)
	f, err := facts.Compute(ds, facts.DefaultParams)
	if err != nil {
		return rejected("dataset facts: %v", err), nil
	}
	return e.verdict(j, commitment, f, len(ds.Fields)), nil
}

// verdict builds the evidence of a computed commitment and facts and judges
// them against the submission.
func (e *Enclave) verdict(j *Job, commitment common.Hash, f facts.Facts, fields int) *Outcome {
	sub := &j.Submission
	subID := sub.Digest(j.ChainID)
	ev := &Evidence{
		Version:      EvidenceVersion,
		ChainID:      j.ChainID,
		SubmissionID: subID,
		Commitment:   commitment,
		Facts:        f,
		ResultDigest: ResultDigest(subID, commitment, f.Digest()),
		EnclaveKey:   e.PublicKeyBytes(),
		Backend:      e.backend.Name(),
		Enclave:      e.Address(),
	}
	switch {
	case commitment != sub.Commitment:
		return &Outcome{Status: StatusRejected, Evidence: ev, Reason: fmt.Sprintf(
			"commitment mismatch: the data commits to %s, the submission claims %s", commitment.Hex(), sub.Commitment.Hex())}
	case f.Records != sub.Records:
		return &Outcome{Status: StatusRejected, Evidence: ev, Reason: fmt.Sprintf(
			"record count mismatch: the data has %d records, the submission claims %d", f.Records, sub.Records)}
	case fields != int(sub.Fields):
		return &Outcome{Status: StatusRejected, Evidence: ev, Reason: fmt.Sprintf(
			"field count mismatch: the data has %d fields per record, the submission declares %d", fields, sub.Fields)}
	}
	return &Outcome{Status: StatusVerified, Evidence: ev}
}

// checkStream is check over a streamed blob: decrypt → parse → commit →
// facts as the ciphertext is read, one parse block and one commitment block
// in memory (plus the facts' duplicate set, 16 bytes a record). The blob's
// data hash is checked at its end, before any verdict.
func (e *Enclave) checkStream(j *Job) (*Outcome, error) {
	sub := &j.Submission
	if crypto.Keccak256Hash(j.WrappedKey) != sub.WrappedKeyHash {
		return nil, fmt.Errorf("%w: the wrapped data key does not hash to the submission's wrapped_key_hash %s", ErrJobInputs, sub.WrappedKeyHash.Hex())
	}
	dataKey, err := envelope.Unwrap(j.WrappedKey, sub.DataHash, e.key)
	if err != nil {
		return nil, fmt.Errorf("%w %s (another worker's key, or a key replaced since the client fetched it)", ErrWrongEnclaveKey, e.Address().Hex())
	}
	plain, err := envelope.DecryptStream(dataKey, j.Stream, sub.DataHash)
	clear(dataKey)
	if err != nil {
		return rejected("the ciphertext does not decrypt: %v", err), nil
	}
	var c *records.Committer
	var st *facts.Stream
	fields, _, err := records.Scan(plain, func(fields []string, recs [][]int64) error {
		if c == nil {
			c, st = records.NewCommitter(len(fields)), facts.NewStream(fields, facts.DefaultParams, int(min(sub.Records, records.MaxRecords)))
			c.OnBlock(func(recs [][]int64, leaves []fr.Element) error { return st.Add(recs, leaves) })
		}
		return c.Add(recs)
	})
	if err != nil && !errors.Is(err, envelope.ErrDataHash) {
		if herr := envelope.CheckRest(plain); herr != nil {
			err = herr // not the signed blob: judge nothing
		}
	}
	switch {
	case errors.Is(err, envelope.ErrDataHash):
		return nil, fmt.Errorf("%w: %v", ErrJobInputs, err)
	case errors.Is(err, records.ErrInvalid):
		return rejected("the decrypted dataset is invalid%s (the enclave never echoes plaintext: check the file with `vsc submit`, which parses it before encrypting)", parseErrorPlace(err)), nil
	case err != nil && isEnvelopeErr(err):
		return rejected("the ciphertext does not decrypt: %v", err), nil
	case err != nil: // reading the blob failed: the job is retried
		return nil, fmt.Errorf("read the blob: %w", err)
	}
	commitment := c.Commitment()
	if err := c.Err(); err != nil {
		return rejected("dataset facts: %v", err), nil
	}
	return e.verdict(j, commitment, st.Facts(), len(fields)), nil
}

// isEnvelopeErr reports whether err is the chunked ciphertext's refusal.
func isEnvelopeErr(err error) bool {
	for _, e := range []error{envelope.ErrBadBlob, envelope.ErrTruncated, envelope.ErrMissingFinal, envelope.ErrChunkOrder,
		envelope.ErrSpliced, envelope.ErrBadChunk, envelope.ErrTrailing} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// attest attests and signs computed results: one alone by its result
// digest, several as one batch (BatchBinding of their Merkle root).
func (e *Enclave) attest(evs []*Evidence) error {
	bound := evs[0].ResultDigest
	if len(evs) > 1 {
		if len(evs) > merkle.MaxSize {
			return fmt.Errorf("attest %d results: at most %d per batch", len(evs), merkle.MaxSize)
		}
		leaves := make([]common.Hash, len(evs))
		for i, ev := range evs {
			leaves[i] = ev.ResultDigest
		}
		root, paths := merkle.Build(leaves)
		size := uint32(len(evs))
		for i, ev := range evs {
			ev.Batch = &ResultBatch{Root: root, Size: size, Index: uint32(i), Path: paths[i]}
		}
		bound = BatchBinding(root, size)
	}
	att, err := e.backend.Attest(ResultReportData(e.pub, bound))
	if err != nil {
		return fmt.Errorf("attest result %s: %w", bound.Hex(), err)
	}
	sig, err := crypto.Sign(bound[:], e.key)
	if err != nil {
		return fmt.Errorf("sign result: %w", err)
	}
	for _, ev := range evs {
		ev.Report, ev.Signature = att, sig
	}
	return nil
}

var linePlace = regexp.MustCompile(`line [0-9]+(, (column|field) [0-9]+)?`)

// parseErrorPlace returns where a parse error is (" at line N, column C"),
// without the offending value, which is plaintext. records.Parse never
// quotes a value either; this keeps the enclave's reason to the place alone
// whatever the parser says.
func parseErrorPlace(err error) string {
	if m := linePlace.FindString(err.Error()); m != "" {
		return " at " + m
	}
	return ""
}

// OpenEnvelope decrypts a submission's blob inside the enclave, for code
// that runs in the same enclave (the ZK prover: it proves over plaintext it
// must never see outside). The caller must not log, store or send the
// plaintext.
func (e *Enclave) OpenEnvelope(blob, wrapped []byte, dataHash common.Hash) ([]byte, error) {
	return envelope.Open(blob, wrapped, dataHash, e.key)
}

// OpenEnvelopeStream is OpenEnvelope over a streamed blob: the plaintext as
// a stream, each chunk authenticated before it is returned and the data
// hash checked at the end (envelope.OpenStream). For the prover that runs
// inside this enclave.
func (e *Enclave) OpenEnvelopeStream(blob io.Reader, wrapped []byte, dataHash common.Hash) (io.Reader, error) {
	return envelope.OpenStream(blob, wrapped, dataHash, e.key)
}
