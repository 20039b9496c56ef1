package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/coordinator"
	"github.com/vsc-labs/vsc/coordinator/client"
	"github.com/vsc-labs/vsc/coordinator/server"
	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/internal/bus"
	"github.com/vsc-labs/vsc/internal/codes"
	"github.com/vsc-labs/vsc/internal/envelope"
	"github.com/vsc-labs/vsc/internal/keys"
	"github.com/vsc-labs/vsc/internal/submission"
	"github.com/vsc-labs/vsc/internal/testenv"
)

// hostileSubmission prepares an honest dataset as the attacker, lets tweak
// change the request (before signing when resign), signs with the
// attacker's key and sends it.
func (a *arena) hostileSubmission(t *testing.T, mode idao.Mode, tweak func(r *coordinator.SubmitRequest, blob *[]byte), resign bool) error {
	t.Helper()
	return a.hostileSubmissionWith(t, mode, tweak, resign, func(r *coordinator.SubmitRequest, blob []byte) error {
		_, _, err := a.api.Submit(context.Background(), r, blob)
		return err
	})
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
		// the 5 MiB key makes the submission JSON 10 MiB: the body's limit refuses it first
		{name: "wrapped key of 5 MiB", code: "body_too_large", says: "max_submit_json_bytes",
			run: func(t *testing.T, a *arena) error {
				return a.hostileSubmission(t, "tee", func(r *coordinator.SubmitRequest, _ *[]byte) {
					r.WrappedKey = make([]byte, 5<<20)
					r.Submission.WrappedKeyHash = keccak(r.WrappedKey)
				}, true)
			}},
	})
}

// secretCell is a value a hostile dataset holds where its error is: no
// reason, history or log line may ever quote it.
const secretCell = "5518209377"

// raw sends a hand-written request to the coordinator and returns its
// refusal (nil for a 2xx answer).
func (a *arena) raw(t *testing.T, method, path, ctype string, body []byte) error {
	t.Helper()
	req, err := http.NewRequest(method, a.api.BaseURL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode < 300 {
		return nil
	}
	e := new(codes.Error)
	if json.Unmarshal(data, e) != nil || !e.Code.Known() {
		return withCode("uncoded", fmt.Errorf("HTTP %d: %s", resp.StatusCode, data))
	}
	return e
}

// signedJSON is an honest submission of the attacker's, signed, as JSON
// (its blob not uploaded).
func (a *arena) signedJSON(t *testing.T) []byte {
	t.Helper()
	var out []byte
	_ = a.hostileSubmissionWith(t, "tee", func(r *coordinator.SubmitRequest, _ *[]byte) {}, true, func(r *coordinator.SubmitRequest, _ []byte) error {
		var err error
		out, err = json.Marshal(r)
		return err
	})
	return out
}

// hostileSubmissionWith is hostileSubmission with its own send.
func (a *arena) hostileSubmissionWith(t *testing.T, mode idao.Mode, tweak func(r *coordinator.SubmitRequest, blob *[]byte), resign bool,
	send func(r *coordinator.SubmitRequest, blob []byte) error) error {
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
	return send(req, blob)
}

// multipartOf writes a multipart body of named parts by hand.
func multipartOf(parts ...[2]string) (string, []byte) {
	var b strings.Builder
	for _, p := range parts {
		fmt.Fprintf(&b, "--x\r\nContent-Disposition: form-data; name=%q\r\n\r\n%s\r\n", p[0], p[1])
	}
	b.WriteString("--x--\r\n")
	return "multipart/form-data; boundary=x", []byte(b.String())
}

// hostilePlaintext submits a correctly signed and sealed submission whose
// plaintext (which intake cannot read) is not a valid dataset, waits for
// the verifier's rejection, and checks that the secret cell is in no
// reason, no history line and no log line. The refusal it returns is the
// rejection's reason.
func (a *arena) hostilePlaintext(t *testing.T, mode idao.Mode, plain string, records uint64) error {
	t.Helper()
	ctx := context.Background()
	dao, err := a.api.IDAO(ctx, "demo")
	if err != nil {
		t.Fatal(err)
	}
	enclave, err := crypto.UnmarshalPubkey(dao.EnclaveKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := envelope.Seal([]byte(plain), enclave)
	if err != nil {
		t.Fatal(err)
	}
	nonce, err := a.api.NextNonce(ctx, keys.Address(a.attacker))
	if err != nil {
		t.Fatal(err)
	}
	sub := submission.Submission{IDAO: "demo", Mode: mode, Class: "dataset", Contributor: keys.Address(a.attacker),
		DataHash: sealed.DataHash, Commitment: common.Hash{1}, Records: records, WrappedKeyHash: sealed.WrappedKeyHash(), Nonce: nonce, Fields: 2}
	sig, err := sub.Sign(a.chain.ChainID(), a.attacker)
	if err != nil {
		t.Fatal(err)
	}
	v, _, err := a.api.Submit(ctx, &coordinator.SubmitRequest{Submission: sub, Signature: sig, WrappedKey: sealed.WrappedKey,
		EnclaveKey: dao.EnclaveKey.PublicKey}, sealed.Blob)
	if err != nil {
		return err
	}
	got := a.wait(v.ID, 2*time.Minute)
	full, err := a.api.Status(ctx, v.ID)
	if err != nil {
		t.Fatal(err)
	}
	view, _ := json.Marshal(full)
	if strings.Contains(string(view), secretCell) {
		t.Errorf("the submission's public view quotes the dataset's value: %s", view)
	}
	if logs := a.logs.String(); strings.Contains(logs, secretCell) {
		t.Errorf("the devnet's logs quote the dataset's value")
	} else if !strings.Contains(logs, v.ID) {
		t.Errorf("the devnet logged nothing about %s: the log check saw nothing", v.ID)
	}
	if got.Status != coordinator.Rejected || got.Reason == nil {
		return nil // accepted: the row fails
	}
	return withCode(string(got.Status), errors.New(*got.Reason))
}

// acceptedThenRejected is what a submission that passes intake and is
// rejected by its verifier changes: its own rows, its blob, its jobs and
// results (and the attacker's account on its first submission).
var acceptedThenRejected = []string{"rows:submissions", "rows:evidence", "rows:submission_events", "rows:accounts", "blobs",
	"stream:" + bus.JobsStream, "stream:" + bus.ResultsStream}

func init() {
	tee := func(t *testing.T, a *arena, tweak func(r *coordinator.SubmitRequest, blob *[]byte)) error {
		return a.hostileSubmission(t, "tee", tweak, true)
	}
	registerAttacks("intake", []attack{
		{name: "wrapped key one byte too long", code: "invalid_field", says: "wrapped_key_bytes",
			run: func(t *testing.T, a *arena) error {
				return tee(t, a, func(r *coordinator.SubmitRequest, _ *[]byte) {
					r.WrappedKey = append(r.WrappedKey, 0)
					r.Submission.WrappedKeyHash = keccak(r.WrappedKey)
				})
			}},
		{name: "signature of 66 bytes", code: "invalid_field", says: "signature_bytes",
			run: func(t *testing.T, a *arena) error {
				return a.hostileSubmission(t, "tee", func(r *coordinator.SubmitRequest, _ *[]byte) {
					r.Signature, _ = r.Submission.Sign(1337, a.attacker)
					r.Signature = append(r.Signature, 0)
				}, false)
			}},
		{name: "more records than the blob can hold", code: "invalid_field", says: "holds at most",
			run: func(t *testing.T, a *arena) error {
				return tee(t, a, func(r *coordinator.SubmitRequest, _ *[]byte) { r.Submission.Records = 1 << 20 })
			}},
		{name: "zk jobs over the limit", code: "invalid_field", says: "max_jobs_per_submission",
			run: func(t *testing.T, a *arena) error {
				return a.hostileSubmission(t, "zk", func(r *coordinator.SubmitRequest, _ *[]byte) {
					r.Submission.Records = 4*coordinator.MaxJobsPerSubmission + 1 // the test devnet proves chunks of 4
				}, true)
			}},
		{name: "iDAO name over its limit", code: "invalid_field", says: "max_idao_name_bytes",
			run: func(t *testing.T, a *arena) error {
				return tee(t, a, func(r *coordinator.SubmitRequest, _ *[]byte) { r.Submission.IDAO = strings.Repeat("d", 4000) })
			}},
		{name: "mode over its limit", code: "invalid_field", says: "max_mode_bytes",
			run: func(t *testing.T, a *arena) error {
				return tee(t, a, func(r *coordinator.SubmitRequest, _ *[]byte) {
					r.Submission.Mode = idao.Mode(strings.Repeat("tee+", 1000))
				})
			}},
		{name: "a 1 MiB JSON body", code: "body_too_large", says: "max_submit_json_bytes",
			run: func(t *testing.T, a *arena) error {
				b := a.signedJSON(t)
				b = append(b[:len(b)-1], []byte(`,"pad":"`+strings.Repeat("x", 1<<20)+`"}`)...)
				return a.raw(t, http.MethodPost, "/v1/submissions", "application/json", b)
			}},
		{name: "an unknown multipart part", code: "bad_request", says: `only "submission" and "blob"`,
			run: func(t *testing.T, a *arena) error {
				ct, body := multipartOf([2]string{"submission", string(a.signedJSON(t))}, [2]string{"x", strings.Repeat("y", 1<<16)})
				return a.raw(t, http.MethodPost, "/v1/submissions", ct, body)
			}},
		{name: "more multipart parts than allowed", code: "bad_request", says: "max_multipart_parts",
			run: func(t *testing.T, a *arena) error {
				ct, body := multipartOf([2]string{"submission", string(a.signedJSON(t))}, [2]string{"blob", "a"}, [2]string{"blob", "b"})
				return a.raw(t, http.MethodPost, "/v1/submissions", ct, body)
			}},
		{name: "a submission naming a blob never uploaded", code: "blob_missing", says: "no blob with data_hash",
			run: func(t *testing.T, a *arena) error {
				return a.raw(t, http.MethodPost, "/v1/submissions", "application/json", a.signedJSON(t))
			}},
		{name: "an upload that is not its hash", code: "data_hash_mismatch", says: "hashes to",
			run: func(t *testing.T, a *arena) error {
				return a.raw(t, http.MethodPut, "/v1/blobs/"+keccak([]byte("other")).Hex(), "application/octet-stream", []byte("blob"))
			}},
		{name: "a page of 5000 iDAOs", code: "invalid_field", says: "max_page_limit",
			run: func(t *testing.T, a *arena) error {
				return a.raw(t, http.MethodGet, "/v1/idaos?limit=5000", "", nil)
			}},
		{name: "a forged chain list cursor", code: "invalid_field", says: "cursor",
			run: func(t *testing.T, a *arena) error {
				return a.raw(t, http.MethodGet, "/v1/chain/dat/tokens?cursor=%0A%0Dforged", "", nil)
			}},
		{name: "a plaintext cell that is not a number (tee)", code: "rejected", says: "line 3, column 2", changes: acceptedThenRejected,
			run: func(t *testing.T, a *arena) error {
				return a.hostilePlaintext(t, "tee", "t,v\n1,2\n3,x"+secretCell+"\n", 2)
			}},
		{name: "a plaintext cell that is not an int64 (zk)", code: "rejected", says: "line 2, field 1", changes: acceptedThenRejected,
			run: func(t *testing.T, a *arena) error {
				return a.hostilePlaintext(t, "zk", "{\"v\":1}\n{\"v\":\""+secretCell+"\"}\n", 2)
			}},
		// last: the flood empties the shared address's bucket
		{name: "a flood of intake requests", code: "rate_limited", says: "intake_rate",
			run: func(t *testing.T, a *arena) error {
				// malformed bodies: each is refused, and all but the limiter's count change nothing
				for range 10 * server.DefaultIntakeRate {
					err := a.raw(t, http.MethodPost, "/v1/submissions", "application/json", []byte("{"))
					if errCode(err) == "rate_limited" {
						// honour Retry-After (a second refills DefaultIntakeRate
						// tokens) before honest work resumes from the same address
						refused := time.Now()
						testenv.Eventually(t, 10*time.Second, func() error {
							if time.Since(refused) < time.Second {
								return errors.New("within Retry-After")
							}
							return nil
						})
						return err
					}
				}
				return nil
			}},
	})
}
