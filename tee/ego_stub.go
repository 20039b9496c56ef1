//go:build !ego

package tee

import "errors"

// NewEgo is only available in binaries built with `-tags ego`.
func NewEgo() (Backend, error) {
	return nil, errors.New("ego backend: this binary was built without SGX support; rebuild with `-tags ego` under ego-go, or use --tee-backend sim")
}

// OpenEgo is only available in binaries built with `-tags ego`.
func OpenEgo(dir string) (*Enclave, error) {
	_, err := NewEgo()
	return nil, err
}

// verifyEgoReport: without the ego tag this binary cannot check SGX reports.
func verifyEgoReport([]byte) (*Report, error) { return nil, ErrEgoUnavailable }
