//go:build ego

package tee

import "testing"

// egoVerifyErr is what a forged SGX report meets with ego's verifier (with
// ego_mock_eclient every report is refused).
var egoVerifyErr = ErrReportSignature

// TestEgoRefusesOutsideEnclave: outside SGX (or in OE_SIMULATION) the ego
// backend must not start, since its seal key would be all zeros.
func TestEgoRefusesOutsideEnclave(t *testing.T) {
	t.Parallel()
	if _, err := NewEgo(); err == nil {
		t.Skip("running inside an SGX enclave")
	}
	if _, err := OpenEgo(t.TempDir()); err == nil {
		t.Fatal("OpenEgo succeeded outside an enclave")
	}
}
