//go:build ego

package tee

// egoVerifyErr is what a forged SGX report meets with ego's verifier (with
// ego_mock_eclient every report is refused).
var egoVerifyErr = ErrReportSignature
