package tee

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// The attestation travels as JSON (Attestation) wherever other packages
// hold it as opaque bytes: the chain's enclave-register tx, the coordinator's
// iDAO view (EnclaveKey.Report), the client's check.

// EncodeAttestation returns the JSON form of a.
func EncodeAttestation(a Attestation) []byte {
	b, _ := json.Marshal(a) // a struct of a string and bytes: cannot fail
	return b
}

// DecodeAttestation parses the JSON form of an attestation.
func DecodeAttestation(raw []byte) (Attestation, error) {
	var a Attestation
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&a); err != nil {
		return Attestation{}, fmt.Errorf("%w: attestation: %v", ErrMalformed, err)
	}
	if len(a.Report) == 0 {
		return Attestation{}, fmt.Errorf("%w: attestation has no report", ErrMalformed)
	}
	return a, nil
}

// VerifyKeyAttestationJSON is VerifyKeyAttestation on the JSON form.
func VerifyKeyAttestationJSON(p Policy, pubkey, attestation []byte) (*Report, error) {
	a, err := DecodeAttestation(attestation)
	if err != nil {
		return nil, err
	}
	return VerifyKeyAttestation(p, pubkey, a)
}

// ClientCheck returns the check `vsc submit` runs on an iDAO's enclave key
// before wrapping a data key to it (coordinator/client PrepareOptions.VerifyEnclave).
func ClientCheck(p Policy) func(pubkey, attestation []byte) error {
	return func(pubkey, attestation []byte) error {
		_, err := VerifyKeyAttestationJSON(p, pubkey, attestation)
		return err
	}
}

// KeyRegistry checks enclave-key registrations on chain; it satisfies the
// chain executor's EnclaveVerifier. It is pure (no clock, no I/O) for sim
// reports; SGX report verification depends on Intel's collateral, so a
// chain that replays old blocks should keep its registrations' verdicts.
type KeyRegistry struct {
	// Default is the policy for iDAOs whose tee_policy is empty; nil refuses them.
	Default *Policy
}

// VerifyEnclaveKey checks report (an Attestation as JSON) for pubKey under
// the iDAO's policy (a Policy as JSON).
func (k KeyRegistry) VerifyEnclaveKey(idao string, policy json.RawMessage, pubKey, report []byte) error {
	var p Policy
	switch {
	case len(bytes.TrimSpace(policy)) > 0 && !bytes.Equal(bytes.TrimSpace(policy), []byte("null")):
		var err error
		if p, err = ParsePolicy(policy); err != nil {
			return fmt.Errorf("iDAO %s: %w", idao, err)
		}
	case k.Default != nil:
		p = *k.Default
	default:
		return fmt.Errorf("%w: iDAO %s has no tee_policy", ErrPolicy, idao)
	}
	if _, err := VerifyKeyAttestationJSON(p, pubKey, report); err != nil {
		return fmt.Errorf("iDAO %s enclave key: %w", idao, err)
	}
	return nil
}
