package tee

import "errors"

// Sentinel errors of VerifyReport, VerifyKeyAttestation and VerifyEvidence.
// Each refusal the design lists has its own, so callers (the client, quorum
// members, the chain) can branch on and report exactly what was wrong.
var (
	// ErrPolicy: the policy itself is unusable (no measurement to check against).
	ErrPolicy = errors.New("tee: invalid measurement policy")
	// ErrMalformed: the evidence or report cannot be decoded.
	ErrMalformed = errors.New("tee: malformed evidence or report")
	// ErrSimulation: a simulation report under a policy without allow_simulation.
	ErrSimulation = errors.New("tee: simulation report refused (policy does not allow_simulation)")
	// ErrReportSignature: the report's signature does not verify (tampered, one flipped bit).
	ErrReportSignature = errors.New("tee: report signature does not verify")
	// ErrUntrustedRoot: the report is well signed, by a root the policy does not trust.
	ErrUntrustedRoot = errors.New("tee: report signed by an untrusted root")
	// ErrEgoUnavailable: an SGX report reached a binary built without ego verification.
	ErrEgoUnavailable = errors.New("tee: this binary cannot verify SGX reports (build with -tags ego)")
	// ErrUniqueID: the enclave's UniqueID (MRENCLAVE) is not one the policy allows.
	ErrUniqueID = errors.New("tee: enclave UniqueID not allowed by the policy")
	// ErrSignerID: the enclave's SignerID (MRSIGNER) is not the policy's.
	ErrSignerID = errors.New("tee: enclave SignerID not allowed by the policy")
	// ErrProductID: the enclave's ProductID is not the policy's.
	ErrProductID = errors.New("tee: enclave ProductID not allowed by the policy")
	// ErrSecurityVersion: the enclave's SecurityVersion is below the policy's minimum.
	ErrSecurityVersion = errors.New("tee: enclave SecurityVersion below the policy minimum")
	// ErrDebug: the enclave runs in debug mode (its memory is readable by the host).
	ErrDebug = errors.New("tee: debug enclave refused")
	// ErrTCBStatus: the platform's TCB status is not one the policy accepts.
	ErrTCBStatus = errors.New("tee: platform TCB status not accepted by the policy")
	// ErrKeyBinding: a valid report, but for another enclave key.
	ErrKeyBinding = errors.New("tee: report is for another enclave key")
	// ErrResultBinding: a valid report for this key binding another result digest (replayed evidence).
	ErrResultBinding = errors.New("tee: report binds another result digest (replayed evidence)")
	// ErrEvidenceSignature: the evidence is not signed by the attested enclave key.
	ErrEvidenceSignature = errors.New("tee: evidence not signed by the attested enclave key")
	// ErrSubmission: the evidence is about another submission (or chain).
	ErrSubmission = errors.New("tee: evidence is for another submission")
	// ErrResultDigest: the result digest does not recompute from the evidence's contents.
	ErrResultDigest = errors.New("tee: result digest does not match the evidence")
	// ErrFacts: the facts are internally inconsistent.
	ErrFacts = errors.New("tee: inconsistent dataset facts")
	// ErrCommitment: the enclave found a commitment other than the submission's.
	ErrCommitment = errors.New("tee: data does not match the submission's commitment")
	// ErrRecordCount: the enclave found a record count other than the submission's.
	ErrRecordCount = errors.New("tee: data does not match the submission's record count")
	// ErrFieldCount: the enclave found a field count other than the submission declares.
	ErrFieldCount = errors.New("tee: data does not match the submission's declared field count")
)
