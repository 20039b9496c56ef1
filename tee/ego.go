//go:build ego

package tee

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/edgelesssys/ego/attestation"
	"github.com/edgelesssys/ego/eclient"
	"github.com/edgelesssys/ego/ecrypto"
	"github.com/edgelesssys/ego/enclave"
)

// Ego is the SGX backend, built with `-tags ego` and run under ego
// (`ego-go build`, `ego sign`, `ego run`; see `make enclave` and the README).
type Ego struct {
	self attestation.Report
}

// sealAAD binds sealed files to their purpose.
var sealAAD = []byte("vsc-enclave-seal-v1")

// NewEgo returns the SGX backend. It refuses to start unless it runs inside
// a real enclave: outside one (or in OE_SIMULATION) ego's seal keys are all
// zeros and SealWith… "succeeds" with no confidentiality at all, so it
// checks that enclave.GetSelfReport succeeds AND the seal key is not zero.
func NewEgo() (*Ego, error) {
	self, err := enclave.GetSelfReport()
	if err != nil {
		return nil, fmt.Errorf("ego backend: not running inside an SGX enclave (GetSelfReport: %w); use --tee-backend sim for development", err)
	}
	key, _, err := enclave.GetUniqueSealKey()
	if err != nil {
		return nil, fmt.Errorf("ego backend: no seal key: %w", err)
	}
	zero := bytes.Equal(key, make([]byte, len(key)))
	clear(key)
	if len(key) == 0 || zero {
		return nil, errors.New("ego backend: the seal key is all zeros (simulation mode or no SGX): refusing to seal or attest anything")
	}
	return &Ego{self: self}, nil
}

// Name returns BackendEgo.
func (e *Ego) Name() string { return BackendEgo }

// SelfReport returns this enclave's own report (its measurement), for the
// operator to put into policies.
func (e *Ego) SelfReport() Report { return fromEgo(e.self) }

// Attest gets an SGX remote report over data. data is a fixed-size array,
// so GetRemoteReport never sees nil (it panics on nil report data).
func (e *Ego) Attest(data [ReportDataSize]byte) (Attestation, error) {
	raw, err := enclave.GetRemoteReport(data[:])
	if err != nil {
		return Attestation{}, fmt.Errorf("ego GetRemoteReport: %w", err)
	}
	return Attestation{Backend: BackendEgo, Report: raw}, nil
}

// Seal seals with the enclave's unique key: a new enclave build (new
// UniqueID) cannot unseal it and gets a new identity to register.
func (e *Ego) Seal(plaintext []byte) ([]byte, error) {
	return ecrypto.SealWithUniqueKey(plaintext, sealAAD)
}

// Unseal reverses Seal.
func (e *Ego) Unseal(sealed []byte) ([]byte, error) {
	return ecrypto.Unseal(sealed, sealAAD)
}

// OpenEgo opens (or creates) the SGX enclave whose sealed identity lives in dir.
func OpenEgo(dir string) (*Enclave, error) {
	b, err := NewEgo()
	if err != nil {
		return nil, err
	}
	return Open(b, dir)
}

func fromEgo(r attestation.Report) Report {
	return Report{
		Data:            r.Data,
		SecurityVersion: r.SecurityVersion,
		Debug:           r.Debug,
		UniqueID:        r.UniqueID,
		SignerID:        r.SignerID,
		ProductID:       r.ProductID,
		TCBStatus:       r.TCBStatus,
		TCBAdvisories:   r.TCBAdvisories,
	}
}

// verifyEgoReport checks an SGX remote report with ego's verifier (Open
// Enclave's host verification through cgo; the ego_mock_eclient tag builds a
// stub that refuses everything). The error is checked before the report is
// trusted: the zero Report returned with an error says "UpToDate".
// ErrTCBLevelInvalid comes with a filled report whose TCB status the policy
// then judges.
func verifyEgoReport(raw []byte) (*Report, error) {
	if len(raw) == 0 {
		return nil, fmt.Errorf("%w: empty SGX report", ErrMalformed)
	}
	r, err := eclient.VerifyRemoteReport(raw)
	switch {
	case err == nil:
	case errors.Is(err, attestation.ErrTCBLevelInvalid):
		// a genuine report from a platform whose TCB is not up to date:
		// a policy decision, made by Policy.Check on r.TCBStatus.
	default:
		return nil, fmt.Errorf("%w: %v", ErrReportSignature, err)
	}
	out := fromEgo(r)
	return &out, nil
}
