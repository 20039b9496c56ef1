package tee

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/internal/eip712"
	"github.com/vsc-labs/vsc/internal/merkle"
	"github.com/vsc-labs/vsc/internal/submission"
	"github.com/vsc-labs/vsc/tee/facts"
)

// EvidenceVersion is the version of the Evidence format.
const EvidenceVersion = 1

var resultDomain = []byte("vsc-tee-result-v1")

// ResultDigest is keccak256("vsc-tee-result-v1" ‖ submission digest ‖
// commitment ‖ facts digest): what the enclave attests and signs, and what
// quorum members vote on.
func ResultDigest(submissionID, commitment, factsDigest common.Hash) common.Hash {
	return crypto.Keccak256Hash(resultDomain, submissionID[:], commitment[:], factsDigest[:])
}

// Evidence is what a TEE worker returns for a submission: the commitment
// and facts it computed from the decrypted data, the result digest over them,
// a report binding the result to the enclave key, and the enclave key's
// signature. Every quorum member checks it with VerifyEvidence.
type Evidence struct {
	Version      int            `json:"version"`
	ChainID      uint64         `json:"chain_id"`
	SubmissionID common.Hash    `json:"submission_id"` // the submission's EIP-712 digest
	Commitment   common.Hash    `json:"commitment"`    // recomputed from the plaintext
	Facts        facts.Facts    `json:"facts"`
	ResultDigest common.Hash    `json:"result_digest"`
	EnclaveKey   hexutil.Bytes  `json:"enclave_key"` // 65-byte uncompressed secp256k1
	Report       Attestation    `json:"report"`      // report data = ResultReportData(EnclaveKey, ResultDigest)
	Signature    hexutil.Bytes  `json:"signature"`   // enclave key's signature of ResultDigest
	Backend      string         `json:"backend"`     // = Report.Backend
	Enclave      common.Address `json:"enclave"`     // = address of EnclaveKey
	// Batch is set when the enclave attested many results at once: then the
	// report and the signature bind BatchBinding(Root, Size), and Path proves
	// ResultDigest is leaf Index of that batch (see internal/merkle).
	Batch *ResultBatch `json:"batch,omitempty"`
}

// ResultBatch places a result in a batch the enclave attested and signed once.
type ResultBatch struct {
	Root  common.Hash   `json:"root"`
	Size  uint32        `json:"size"`
	Index uint32        `json:"index"`
	Path  []common.Hash `json:"path"`
}

var batchDomain = []byte("vsc-tee-result-batch-v1")

// BatchBinding is what an enclave attests and signs for a batch of results:
// keccak256("vsc-tee-result-batch-v1" ‖ Merkle root of the result digests ‖
// size as 4 bytes big-endian).
func BatchBinding(root common.Hash, size uint32) common.Hash {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], size)
	return crypto.Keccak256Hash(batchDomain, root[:], n[:])
}

// Bound is what the evidence's report and signature bind: the result digest,
// or for batched evidence the batch's binding once the path leads from the
// result digest to the batch root (ErrResultBinding if not).
func (ev *Evidence) Bound() (common.Hash, error) {
	if ev.Batch == nil {
		return ev.ResultDigest, nil
	}
	b := ev.Batch
	if root, ok := merkle.Root(ev.ResultDigest, b.Index, b.Size, b.Path); !ok || root != b.Root {
		return common.Hash{}, fmt.Errorf("%w: the result is not leaf %d of the attested batch of %d", ErrResultBinding, b.Index, b.Size)
	}
	return BatchBinding(b.Root, b.Size), nil
}

// VerifyEvidence checks, with no I/O, that ev is attested evidence by an
// enclave acceptable under p that the data of sub (on chain chainID) has
// sub's commitment and record count. Each refusal has its own sentinel error
// (errors.go). Checks run in this order:
//
//  1. shape (ErrMalformed), chain and submission id (ErrSubmission),
//     facts consistency (ErrFacts), result digest recomputation (ErrResultDigest);
//  2. the report under p (ErrSimulation, ErrReportSignature, ErrUntrustedRoot,
//     ErrDebug, ErrUniqueID, ErrSignerID, ErrProductID, ErrSecurityVersion,
//     ErrTCBStatus, ErrEgoUnavailable);
//  3. the report data: for this key (ErrKeyBinding), for this result
//     (ErrResultBinding; for batched evidence, also the result's path to the
//     attested batch root);
//  4. the signature by the attested key (ErrEvidenceSignature);
//  5. the verdict: commitment (ErrCommitment), record count (ErrRecordCount)
//     and field count (ErrFieldCount) equal the submission's. Evidence of a rejection verifies up to step 4
//     and then fails here, which is how a member confirms the rejection.
func VerifyEvidence(p Policy, ev *Evidence, sub *submission.Submission, chainID uint64) (*Report, error) {
	if ev == nil || sub == nil {
		return nil, fmt.Errorf("%w: missing evidence or submission", ErrMalformed)
	}
	if ev.Version != EvidenceVersion {
		return nil, fmt.Errorf("%w: evidence version %d, want %d", ErrMalformed, ev.Version, EvidenceVersion)
	}
	pub, err := crypto.UnmarshalPubkey(ev.EnclaveKey)
	if err != nil {
		return nil, fmt.Errorf("%w: enclave key: %v", ErrMalformed, err)
	}
	if ev.Enclave != crypto.PubkeyToAddress(*pub) || ev.Backend != ev.Report.Backend {
		return nil, fmt.Errorf("%w: enclave address or backend disagrees with the key and report", ErrMalformed)
	}
	if ev.ChainID != chainID || ev.SubmissionID != sub.Digest(chainID) {
		return nil, fmt.Errorf("%w: evidence for %s on chain %d", ErrSubmission, ev.SubmissionID.Hex(), ev.ChainID)
	}
	if err := ev.Facts.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFacts, err)
	}
	if ResultDigest(ev.SubmissionID, ev.Commitment, ev.Facts.Digest()) != ev.ResultDigest {
		return nil, ErrResultDigest
	}
	r, err := VerifyReport(p, ev.Report)
	if err != nil {
		return nil, err
	}
	bound, err := ev.Bound()
	if err != nil {
		return nil, err
	}
	want := ResultReportData(ev.EnclaveKey, bound)
	if len(r.Data) != ReportDataSize || !bytes.Equal(r.Data[32:], want[32:]) {
		return nil, ErrKeyBinding
	}
	if !bytes.Equal(r.Data[:32], want[:32]) {
		return nil, ErrResultBinding
	}
	// ev.Enclave is the address of ev.EnclaveKey (checked above); one
	// recovery serves every result of a batch
	if signer, err := eip712.RecoverCached(bound, ev.Signature); err != nil || signer != ev.Enclave {
		return nil, ErrEvidenceSignature
	}
	if ev.Commitment != sub.Commitment {
		return r, fmt.Errorf("%w: enclave computed %s, submission says %s", ErrCommitment, ev.Commitment.Hex(), sub.Commitment.Hex())
	}
	if ev.Facts.Records != sub.Records {
		return r, fmt.Errorf("%w: enclave counted %d, submission says %d", ErrRecordCount, ev.Facts.Records, sub.Records)
	}
	if len(ev.Facts.Fields) != int(sub.Fields) {
		return r, fmt.Errorf("%w: enclave found %d fields per record, submission declares %d", ErrFieldCount, len(ev.Facts.Fields), sub.Fields)
	}
	return r, nil
}

// DecodeEvidence decodes evidence as carried in a tee job's result (JSON);
// the caller then runs VerifyEvidence on it.
func DecodeEvidence(raw []byte) (*Evidence, error) {
	if len(raw) == 0 {
		return nil, fmt.Errorf("%w: no evidence", ErrMalformed)
	}
	var ev Evidence
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return &ev, nil
}
