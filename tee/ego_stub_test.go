//go:build !ego

package tee

// egoVerifyErr is what an SGX report meets in this build.
var egoVerifyErr = ErrEgoUnavailable
