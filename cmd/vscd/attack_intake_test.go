package main

import (
	"context"
	"testing"

	"github.com/vsc-labs/vsc/coordinator"
	"github.com/vsc-labs/vsc/coordinator/client"
	"github.com/vsc-labs/vsc/internal/keys"
)

// hostileSubmission prepares an honest dataset as the attacker, lets tweak
// change the request (before signing when resign), signs with the
// attacker's key and sends it.
func (a *arena) hostileSubmission(t *testing.T, mode string, tweak func(r *coordinator.SubmitRequest, blob *[]byte), resign bool) error {
	t.Helper()
	ctx := context.Background()
	p, err := a.api.Prepare(ctx, []byte(dataset6), client.PrepareOptions{IDAO: "demo", Mode: mode, Contributor: keys.Address(a.attacker)})
	if err != nil {
		t.Fatal(err)
	}
	blob := p.Blob()
	req := p.Request(nil)
	tweak(req, &blob)
	sig, err := req.Submission.Sign(p.ChainID, a.attacker)
	if err != nil {
		t.Fatal(err)
	}
	if resign || req.Signature == nil {
		req.Signature = sig
	}
	_, _, err = a.api.Submit(ctx, req, blob)
	return err
}

func init() {
	registerAttacks("intake", []attack{
		{name: "signature by another key", code: "wrong_signer", says: "not the contributor",
			run: func(t *testing.T, a *arena) error {
				return a.hostileSubmission(t, "tee", func(r *coordinator.SubmitRequest, _ *[]byte) {
					other := a.key("contributor")
					r.Signature, _ = r.Submission.Sign(1337, other)
				}, false)
			}},
		{name: "unknown iDAO", code: "unknown_idao", says: "no iDAO named",
			run: func(t *testing.T, a *arena) error {
				return a.hostileSubmission(t, "tee", func(r *coordinator.SubmitRequest, _ *[]byte) { r.Submission.IDAO = "nope" }, true)
			}},
		{name: "blob that is not the signed data hash", code: "data_hash_mismatch", says: "not the signed data_hash",
			run: func(t *testing.T, a *arena) error {
				return a.hostileSubmission(t, "tee", func(_ *coordinator.SubmitRequest, b *[]byte) {
					*b = append([]byte(nil), *b...)
					(*b)[0] ^= 1
				}, true)
			}},
		{name: "records 2^50 in zk mode", code: "invalid_field", says: "records",
			run: func(t *testing.T, a *arena) error {
				return a.hostileSubmission(t, "zk", func(r *coordinator.SubmitRequest, _ *[]byte) { r.Submission.Records = 1 << 50 }, true)
			}},
		{name: "records 2^64-1", code: "invalid_field", says: "records",
			run: func(t *testing.T, a *arena) error {
				return a.hostileSubmission(t, "zk", func(r *coordinator.SubmitRequest, _ *[]byte) { r.Submission.Records = ^uint64(0) }, true)
			}},
		{name: "wrapped key of 5 MiB", code: "invalid_field", says: "wrapped_key",
			run: func(t *testing.T, a *arena) error {
				return a.hostileSubmission(t, "tee", func(r *coordinator.SubmitRequest, _ *[]byte) {
					r.WrappedKey = make([]byte, 5<<20)
					r.Submission.WrappedKeyHash = keccak(r.WrappedKey)
				}, true)
			}},
	})
}
