package tee

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"

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
//  3. the report data: for this key (ErrKeyBinding), for this result (ErrResultBinding);
//  4. the signature by the attested key (ErrEvidenceSignature);
//  5. the verdict: commitment (ErrCommitment) and record count (ErrRecordCount)
//     equal the submission's. Evidence of a rejection verifies up to step 4
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
	want := ResultReportData(ev.EnclaveKey, ev.ResultDigest)
	if len(r.Data) != ReportDataSize || !bytes.Equal(r.Data[32:], want[32:]) {
		return nil, ErrKeyBinding
	}
	if !bytes.Equal(r.Data[:32], want[:32]) {
		return nil, ErrResultBinding
	}
	signer, err := crypto.SigToPub(ev.ResultDigest[:], ev.Signature)
	if err != nil || !bytes.Equal(crypto.FromECDSAPub(signer), ev.EnclaveKey) {
		return nil, ErrEvidenceSignature
	}
	if ev.Commitment != sub.Commitment {
		return r, fmt.Errorf("%w: enclave computed %s, submission says %s", ErrCommitment, ev.Commitment.Hex(), sub.Commitment.Hex())
	}
	if ev.Facts.Records != sub.Records {
		return r, fmt.Errorf("%w: enclave counted %d, submission says %d", ErrRecordCount, ev.Facts.Records, sub.Records)
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
