package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/coordinator"
	"github.com/vsc-labs/vsc/coordinator/client"
	srvpkg "github.com/vsc-labs/vsc/coordinator/server"
	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/internal/codes"
	"github.com/vsc-labs/vsc/internal/envelope"
	"github.com/vsc-labs/vsc/internal/testenv"
)

// do sends a raw request and returns its status, its API error and the
// Retry-After header.
func do(t *testing.T, method, url, ctype string, body []byte) (int, codes.Error, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
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
	var e codes.Error
	_ = json.Unmarshal(data, &e)
	return resp.StatusCode, e, resp.Header.Get("Retry-After")
}

// fullSnapshot is snapshot plus the upload bookkeeping.
func fullSnapshot(t *testing.T, f *fixture) string {
	var uploads int
	if err := f.Store.Pool.QueryRow(context.Background(), `SELECT count(*) FROM blob_uploads`).Scan(&uploads); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%s uploads=%d", snapshot(t, f), uploads)
}

// rawBody writes a multipart body by hand (the client never writes
// hostile ones): each part is a name and its content.
func rawBody(parts ...[2]string) (string, []byte) {
	var b strings.Builder
	for _, p := range parts {
		fmt.Fprintf(&b, "--x\r\nContent-Disposition: form-data; name=%q\r\n\r\n%s\r\n", p[0], p[1])
	}
	b.WriteString("--x--\r\n")
	return "multipart/form-data; boundary=x", []byte(b.String())
}

// TestIntakeLimits sends one request over each limit and checks that the
// refusal names the limit and that nothing changed.
func TestIntakeLimits(t *testing.T) {
	t.Parallel()
	f := newFixture(t, srvpkg.Config{ZKChunk: 16, MaxBlob: 1 << 20})
	ctx := context.Background()
	p0 := f.prepare(dataset, "tee", 0)
	sig0, _ := p0.Sign(f.key)
	if _, _, err := f.Client.Submit(ctx, p0.Request(sig0), p0.Blob()); err != nil {
		t.Fatal(err)
	}
	mut := func(m func(p *client.Prepared)) func(f *fixture) (string, []byte) {
		return signed("tee", 1, func(_ *fixture, p *client.Prepared) { m(p) }, nil, chainID)
	}
	zk := func(records uint64) func(f *fixture) (string, []byte) {
		return signed("zk", 1, func(_ *fixture, p *client.Prepared) { p.Submission.Records = records }, nil, chainID)
	}
	okJSON := func(f *fixture) []byte {
		p := f.prepare(dataset, "tee", 1)
		sig, _ := p.Sign(f.key)
		b, _ := json.Marshal(p.Request(sig))
		return b
	}
	cases := []struct {
		name    string
		body    func(f *fixture) (string, []byte)
		code    int
		errCode string
		says    string
	}{
		{"records 2^50 in zk", zk(1 << 50), 400, "invalid_field", "max_records"},
		{"records 2^64-1", zk(^uint64(0)), 400, "invalid_field", "max_records"},
		{"zk jobs over the limit", zk(16*coordinator.MaxJobsPerSubmission + 1), 400, "invalid_field", "max_jobs_per_submission"},
		{"records the blob cannot hold", mut(func(p *client.Prepared) { p.Submission.Records = 1000 }), 400, "invalid_field", "holds at most"},
		{"no field count declared", mut(func(p *client.Prepared) { p.Submission.Fields = 0 }), 400, "invalid_field", "max_fields"},
		{"more fields than a dataset may have", mut(func(p *client.Prepared) { p.Submission.Fields = coordinator.MaxFields + 1 }), 400, "invalid_field", "max_fields"},
		{"wrapped key one byte long", mut(func(p *client.Prepared) {
			p.WrappedKey = append(p.WrappedKey, 0)
			p.Submission.WrappedKeyHash = crypto.Keccak256Hash(p.WrappedKey)
		}), 400, "invalid_field", "wrapped_key_bytes"},
		{"wrapped key of 5 MiB", mut(func(p *client.Prepared) {
			p.WrappedKey = make([]byte, 5<<20)
			p.Submission.WrappedKeyHash = crypto.Keccak256Hash(p.WrappedKey)
		}), 413, "body_too_large", "max_submit_json_bytes"},
		{"enclave key short", mut(func(p *client.Prepared) { p.EnclaveKey = p.EnclaveKey[:64] }), 400, "invalid_field", "enclave_key_bytes"},
		{"idao too long", mut(func(p *client.Prepared) { p.Submission.IDAO = strings.Repeat("a", 65) }), 400, "invalid_field", "max_idao_name_bytes"},
		{"idao not a name", mut(func(p *client.Prepared) { p.Submission.IDAO = "Demo DAO" }), 400, "invalid_field", "not an iDAO name"},
		{"mode too long", mut(func(p *client.Prepared) { p.Submission.Mode = idao.Mode(strings.Repeat("tee+", 500)) }), 400, "invalid_field", "max_mode_bytes"},
		{"class too long", mut(func(p *client.Prepared) { p.Submission.Class = strings.Repeat("x", 17) }), 400, "invalid_field", "max_class_bytes"},
		{"signature too long", func(f *fixture) (string, []byte) {
			p := f.prepare(dataset, "tee", 1)
			sig, _ := p.Sign(f.key)
			return multipart(f, p.Request(append(sig, 0)), p.Blob())
		}, 400, "invalid_field", "signature_bytes"},
		{"JSON body over its limit", func(f *fixture) (string, []byte) {
			b := okJSON(f)
			return "application/json", append(b[:len(b)-1], []byte(`,"x":"`+strings.Repeat("a", coordinator.MaxSubmitJSONBytes)+`"}`)...)
		}, 413, "body_too_large", "max_submit_json_bytes"},
		{"trailing data after the JSON", func(f *fixture) (string, []byte) {
			return "application/json", append(okJSON(f), []byte(` {"again":1}`)...)
		}, 400, "malformed_json", "trailing"},
		{"three parts", func(f *fixture) (string, []byte) {
			return rawBody([2]string{"submission", string(okJSON(f))}, [2]string{"blob", "x"}, [2]string{"blob", "y"})
		}, 400, "bad_request", "max_multipart_parts"},
		{"an unknown part", func(f *fixture) (string, []byte) {
			return rawBody([2]string{"submission", string(okJSON(f))}, [2]string{"extra", "x"})
		}, 400, "bad_request", `only "submission" and "blob"`},
		{"two submission parts", func(f *fixture) (string, []byte) {
			return rawBody([2]string{"submission", string(okJSON(f))}, [2]string{"submission", string(okJSON(f))})
		}, 400, "bad_request", `two "submission" parts`},
		{"a bad submission part before a blob over its limit: the blob is never read", func(f *fixture) (string, []byte) {
			p := f.prepare(dataset, "tee", 1)
			p.Submission.Records = ^uint64(0)
			sig, _ := p.Sign(f.key)
			return multipart(f, p.Request(sig), make([]byte, 2<<20))
		}, 400, "invalid_field", "max_records"},
		{"a submission part over its limit", func(f *fixture) (string, []byte) {
			return rawBody([2]string{"submission", strings.Repeat(" ", coordinator.MaxSubmitJSONBytes+1) + "{}"})
		}, 413, "body_too_large", "max_submit_json_bytes"},
	}
	before := fullSnapshot(t, f)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ct, body := tc.body(f)
			code, e, _ := do(t, http.MethodPost, f.HTTP.URL+"/v1/submissions", ct, body)
			if code != tc.code || e.Code.Name() != tc.errCode || !strings.Contains(e.Message, tc.says) {
				t.Fatalf("got %d %s %q, want %d %s saying %q", code, e.Code, e.Message, tc.code, tc.errCode, tc.says)
			}
			if after := fullSnapshot(t, f); after != before {
				t.Fatalf("state changed: %s → %s", before, after)
			}
		})
	}
}

// TestListsArePaged walks GET /v1/idaos a page at a time and checks that
// the SDK's list follows every page.
func TestListsArePaged(t *testing.T) {
	t.Parallel()
	f := newFixture(t, srvpkg.Config{})
	ctx := context.Background()
	owner := crypto.PubkeyToAddress(f.key.PublicKey)
	names := []string{"demo"}
	for i := range 6 {
		name := fmt.Sprintf("dao-%d", i)
		dao := &coordinator.Registered{IDAO: &idao.IDAO{Name: name, Owner: owner, Policy: idao.Policy{Modes: []idao.Mode{idao.ModeTEE}}}}
		if err := f.Store.CreateIDAO(ctx, dao); err != nil {
			t.Fatal(err)
		}
		if err := f.Store.Join(ctx, name, owner, big.NewInt(int64(i+1))); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	var walked []string
	cursor, pages := "", 0
	for {
		url := f.HTTP.URL + "/v1/idaos?limit=3"
		if cursor != "" {
			url += "&cursor=" + cursor
		}
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		var l coordinator.IDAOList
		err = json.NewDecoder(resp.Body).Decode(&l)
		resp.Body.Close()
		if err != nil || len(l.IDAOs) > 3 {
			t.Fatalf("page %d: %v, %d items", pages, err, len(l.IDAOs))
		}
		for _, d := range l.IDAOs {
			walked = append(walked, d.Name)
		}
		pages++
		if l.Next == "" {
			break
		}
		cursor = l.Next
	}
	want := "[dao-0 dao-1 dao-2 dao-3 dao-4 dao-5 demo]"
	if fmt.Sprint(walked) != want || pages != 3 {
		t.Fatalf("walked %v in %d pages, want %s in 3", walked, pages, want)
	}
	c := client.New(f.HTTP.URL)
	c.PageLimit = 2
	all, err := c.IDAOs(ctx)
	if err != nil || len(all) != len(names) || all[0].Members != 1 || all[0].Stake != "1" {
		t.Fatalf("the SDK's list: %+v %v", all, err)
	}
	for _, q := range []string{"limit=1001", "limit=0", "cursor=not-a-cursor!"} {
		code, e, _ := do(t, http.MethodGet, f.HTTP.URL+"/v1/idaos?"+q, "", nil)
		if code != 400 || e.Code.Name() != "invalid_field" {
			t.Errorf("?%s: %d %s", q, code, e.Code)
		}
	}
	if code, e, _ := do(t, http.MethodGet, f.HTTP.URL+"/v1/idaos?limit=1001", "", nil); !strings.Contains(e.Message, "max_page_limit") {
		t.Errorf("limit over the maximum: %d %q does not name max_page_limit", code, e.Message)
	}
}

// TestUploadedBlobsAreCollected: an upload that a signed submission
// references stays; one that none references within the TTL is deleted,
// and a submission naming it afterwards is refused.
func TestUploadedBlobsAreCollected(t *testing.T) {
	t.Parallel()
	f := newFixture(t, srvpkg.Config{BlobTTL: time.Hour})
	ctx := context.Background()
	used, orphan := f.prepare(dataset, "tee", 0), f.prepare(dataset, "tee", 1)
	for _, p := range []*client.Prepared{used, orphan} {
		if err := f.Client.UploadBlob(ctx, p.Submission.DataHash, p.Blob()); err != nil {
			t.Fatal(err)
		}
	}
	sig, _ := used.Sign(f.key)
	if _, _, err := f.Client.Submit(ctx, used.Request(sig), nil); err != nil {
		t.Fatalf("a submission of an uploaded blob: %v", err)
	}
	// both uploads age past the TTL; only the unreferenced one goes
	if _, err := f.Store.Pool.Exec(ctx, `UPDATE blob_uploads SET uploaded_at = now() - interval '2 hours'`); err != nil {
		t.Fatal(err)
	}
	n, err := f.Server.CollectBlobs(ctx)
	if err != nil || n != 1 {
		t.Fatalf("collected %d (%v), want 1", n, err)
	}
	if ok, _ := f.Bus.HasBlob(ctx, orphan.Submission.DataHash); ok {
		t.Fatal("the unreferenced blob is still stored")
	}
	if ok, _ := f.Bus.HasBlob(ctx, used.Submission.DataHash); !ok {
		t.Fatal("the referenced blob was deleted")
	}
	sig, _ = orphan.Sign(f.key)
	if _, _, err := f.Client.Submit(ctx, orphan.Request(sig), nil); !client.IsCode(err, codes.BlobMissing) {
		t.Fatalf("a submission of a collected blob: %v, want blob_missing", err)
	}
	// uploading a referenced blob again records nothing
	if err := f.Client.UploadBlob(ctx, used.Submission.DataHash, used.Blob()); err != nil {
		t.Fatal(err)
	}
	if pending, _ := f.Store.PendingUploadBytes(ctx); pending != 0 {
		t.Fatalf("%d bytes waiting after re-uploading a referenced blob", pending)
	}
	// an upload the sweep is collecting can be neither submitted nor uploaded again
	again := f.prepare(dataset, "tee", 1)
	if err := f.Client.UploadBlob(ctx, again.Submission.DataHash, again.Blob()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Store.Pool.Exec(ctx, `UPDATE blob_uploads SET collecting = true`); err != nil {
		t.Fatal(err)
	}
	sig, _ = again.Sign(f.key)
	if _, _, err := f.Client.Submit(ctx, again.Request(sig), nil); !client.IsCode(err, codes.BlobMissing) {
		t.Fatalf("a submission of a blob being collected: %v, want blob_missing", err)
	}
	if err := f.Client.UploadBlob(ctx, again.Submission.DataHash, again.Blob()); !client.IsCode(err, codes.Unavailable) {
		t.Fatalf("an upload of a blob being collected: %v, want unavailable", err)
	}
	if n, err := f.Server.CollectBlobs(ctx); err != nil || n != 1 {
		t.Fatalf("the marked upload: collected %d (%v)", n, err)
	}
}

// TestSweepRuns: the periodic sweep deletes an upload past its TTL by itself.
func TestSweepRuns(t *testing.T) {
	t.Parallel()
	f := newFixture(t, srvpkg.Config{BlobTTL: 200 * time.Millisecond, SweepEvery: 50 * time.Millisecond})
	ctx := context.Background()
	p := f.prepare(dataset, "tee", 0)
	if err := f.Client.UploadBlob(ctx, p.Submission.DataHash, p.Blob()); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, func() error {
		if ok, _ := f.Bus.HasBlob(ctx, p.Submission.DataHash); ok {
			return fmt.Errorf("the upload is still stored")
		}
		return nil
	})
}

// TestUploadQuotas: waiting uploads are bounded per client and in total.
func TestUploadQuotas(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		cfg   func(one int64) srvpkg.Config
		limit string
	}{
		{"total", func(one int64) srvpkg.Config { return srvpkg.Config{MaxPendingBlobBytes: one} }, "max_pending_blob_bytes"},
		{"per client", func(one int64) srvpkg.Config { return srvpkg.Config{MaxPendingBlobBytesPerClient: one} }, "max_pending_blob_bytes_per_client"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// the dataset's blobs are all the same size: room for exactly one
			one := int64(len(dataset)) + envelope.StreamOverhead(int64(len(dataset)), envelope.DefaultChunkSize)
			f := newFixture(t, tc.cfg(one))
			ctx := context.Background()
			a, b := f.prepare(dataset, "tee", 0), f.prepare(dataset, "tee", 0)
			if int64(len(a.Blob())) != one {
				t.Fatalf("a blob of %d bytes, the test assumes %d", len(a.Blob()), one)
			}
			if err := f.Client.UploadBlob(ctx, a.Submission.DataHash, a.Blob()); err != nil {
				t.Fatal(err)
			}
			before := fullSnapshot(t, f)
			code, e, _ := do(t, http.MethodPut, f.HTTP.URL+"/v1/blobs/"+b.Submission.DataHash.Hex(), "application/octet-stream", b.Blob())
			if code != http.StatusInsufficientStorage || e.Code.Name() != "blob_quota" || !strings.Contains(e.Message, tc.limit+")") {
				t.Fatalf("an upload over the quota: %d %s %q", code, e.Code, e.Message)
			}
			if after := fullSnapshot(t, f); after != before {
				t.Fatalf("state changed: %s → %s", before, after)
			}
			// a blob sent inline with its submission takes no quota
			sig, _ := b.Sign(f.key)
			if _, _, err := f.Client.Submit(ctx, b.Request(sig), b.Blob()); err != nil {
				t.Fatalf("an inline blob with the quota full: %v", err)
			}
		})
	}
}

// TestIntakeRateLimit: a client over its rate gets 429 with Retry-After
// and changes nothing; a negative rate turns the limit off.
func TestIntakeRateLimit(t *testing.T) {
	t.Parallel()
	f := newFixture(t, srvpkg.Config{IntakeRate: 0.5, IntakeBurst: 2})
	before := fullSnapshot(t, f)
	var codes []int
	var retry string
	for range 3 {
		code, e, ra := do(t, http.MethodPost, f.HTTP.URL+"/v1/submissions", "application/json", []byte(`{`))
		codes = append(codes, code)
		if code == http.StatusTooManyRequests {
			if e.Code.Name() != "rate_limited" || !strings.Contains(e.Message, "intake_rate") {
				t.Fatalf("429 %s %q", e.Code, e.Message)
			}
			retry = ra
		}
	}
	if fmt.Sprint(codes) != "[400 400 429]" {
		t.Fatalf("codes %v, want two malformed then a 429", codes)
	}
	if s, err := strconv.Atoi(retry); err != nil || s < 1 {
		t.Fatalf("Retry-After %q", retry)
	}
	if code, e, _ := do(t, http.MethodPut, f.HTTP.URL+"/v1/blobs/"+common.Hash{1}.Hex(), "", []byte("x")); code != 429 {
		t.Fatalf("a blob upload over the rate: %d %s", code, e.Code)
	}
	if after := fullSnapshot(t, f); after != before {
		t.Fatalf("state changed: %s → %s", before, after)
	}
	// reads are not limited
	if code, _, _ := do(t, http.MethodGet, f.HTTP.URL+"/v1/idaos", "", nil); code != 200 {
		t.Fatalf("a read after the limit: %d", code)
	}

	off := newFixture(t, srvpkg.Config{IntakeRate: -1})
	for i := range 50 {
		if code, _, _ := do(t, http.MethodPost, off.HTTP.URL+"/v1/submissions", "application/json", []byte(`{`)); code != 400 {
			t.Fatalf("request %d with the limit off: %d", i, code)
		}
	}
}

// TestInflightBodies: beyond the bytes of intake bodies read at once,
// intake answers 503 with Retry-After and reads nothing.
func TestInflightBodies(t *testing.T) {
	t.Parallel()
	f := newFixture(t, srvpkg.Config{MaxInflightBodyBytes: 64})
	code, e, ra := do(t, http.MethodPost, f.HTTP.URL+"/v1/submissions", "application/json", bytes.Repeat([]byte(" "), 100))
	if code != 503 || e.Code.Name() != "unavailable" || ra != "1" || !strings.Contains(e.Message, "max_inflight_body_bytes") {
		t.Fatalf("got %d %s %q Retry-After %q", code, e.Code, e.Message, ra)
	}
	if code, e, _ := do(t, http.MethodPost, f.HTTP.URL+"/v1/submissions", "application/json", []byte(`{`)); code != 400 {
		t.Fatalf("a small body after: %d %s (the reservation was not released?)", code, e.Code)
	}
}
