package server_test

import (
	"context"
	"crypto/rand"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/coordinator"
	srvpkg "github.com/vsc-labs/vsc/coordinator/server"
)

// countingTransport sums the bytes of the blob parts a client sends.
type countingTransport struct{ sent atomic.Int64 }

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPut {
		c.sent.Add(r.ContentLength)
	}
	return http.DefaultTransport.RoundTrip(r)
}

// An upload in parts cut short resumes at its missing parts: the client
// sends only those, the coordinator puts them together into the blob; a
// part of the wrong length, a size other than the upload's, completing with
// a part missing, or parts that do not hash to the blob are each refused;
// parts left untouched past the blob TTL are deleted.
func TestBlobPartsResume(t *testing.T) {
	t.Parallel()
	f := newFixture(t, srvpkg.Config{BlobTTL: time.Hour})
	ctx := context.Background()
	size := 2*int64(coordinator.BlobPartSize) + 12345
	blob := make([]byte, size)
	rand.Read(blob)
	h := crypto.Keccak256Hash(blob)
	path := filepath.Join(t.TempDir(), "blob")
	if err := os.WriteFile(path, blob, 0o600); err != nil {
		t.Fatal(err)
	}
	partURL := func(n int, sz int64) string {
		return f.HTTP.URL + "/v1/blobs/" + h.Hex() + "/parts/" + strconv.Itoa(n) + "?size=" + strconv.FormatInt(sz, 10)
	}
	part := func(n int) []byte {
		return blob[int64(n)*coordinator.BlobPartSize : min(size, int64(n+1)*coordinator.BlobPartSize)]
	}
	// the upload was cut short after its second part
	if code, e, _ := do(t, http.MethodPut, partURL(1, size), "application/octet-stream", part(1)); code != 200 {
		t.Fatalf("part 1: %d %s", code, e.Message)
	}
	for _, bad := range []struct {
		name, url string
		body      []byte
	}{
		{"a part of the wrong length", partURL(0, size), part(0)[:100]},
		{"another size than the upload's", partURL(0, size+1), part(0)},
		{"a part past the last", partURL(3, size), part(2)},
	} {
		if code, e, _ := do(t, http.MethodPut, bad.url, "application/octet-stream", bad.body); code != 400 || e.Code.Name() != "invalid_field" {
			t.Fatalf("%s: %d %s %q", bad.name, code, e.Code.Name(), e.Message)
		}
	}
	if code, e, _ := do(t, http.MethodPost, f.HTTP.URL+"/v1/blobs/"+h.Hex()+"/complete", "", nil); code != 422 || e.Code.Name() != "blob_missing" {
		t.Fatalf("complete with parts missing: %d %s %q", code, e.Code.Name(), e.Message)
	}
	var v coordinator.PartsView
	get(t, f.HTTP.URL+"/v1/blobs/"+h.Hex()+"/parts", 200, &v)
	if v.Size != size || v.Parts != 3 || len(v.Have) != 1 || v.Have[0] != 1 || v.Stored {
		t.Fatalf("parts held %+v", v)
	}
	// the client resumes: it sends parts 0 and 2 only
	ct := &countingTransport{}
	f.Client.HTTP = &http.Client{Transport: ct}
	var last int64
	if err := f.Client.UploadBlobFile(ctx, h, path, func(sent, total int64) { last = sent }); err != nil {
		t.Fatal(err)
	}
	if want := size - int64(len(part(1))); ct.sent.Load() != want || last != size {
		t.Fatalf("the resumed upload sent %d bytes (want %d), progress ended at %d of %d", ct.sent.Load(), want, last, size)
	}
	got, err := f.Bus.GetBlob(ctx, h)
	if err != nil || crypto.Keccak256Hash(got) != h {
		t.Fatalf("the assembled blob: %v", err)
	}
	get(t, f.HTTP.URL+"/v1/blobs/"+h.Hex()+"/parts", 200, &v)
	if !v.Stored || len(v.Have) != 0 {
		t.Fatalf("after completion %+v", v)
	}

	// parts that do not hash to the name they were sent under
	bad := append([]byte(nil), blob...)
	bad[0] ^= 1
	h2 := crypto.Keccak256Hash(blob[1:]) // a name the bytes do not hash to
	for n := range 3 {
		u := f.HTTP.URL + "/v1/blobs/" + h2.Hex() + "/parts/" + strconv.Itoa(n) + "?size=" + strconv.FormatInt(size, 10)
		if code, e, _ := do(t, http.MethodPut, u, "application/octet-stream", bad[int64(n)*coordinator.BlobPartSize:min(size, int64(n+1)*coordinator.BlobPartSize)]); code != 200 {
			t.Fatalf("part %d: %d %s", n, code, e.Message)
		}
	}
	if code, e, _ := do(t, http.MethodPost, f.HTTP.URL+"/v1/blobs/"+h2.Hex()+"/complete", "", nil); code != 422 || e.Code.Name() != "data_hash_mismatch" {
		t.Fatalf("parts that do not hash: %d %s %q", code, e.Code.Name(), e.Message)
	}
	if ok, _ := f.Bus.HasBlob(ctx, h2); ok {
		t.Fatal("a blob that does not hash to its name was kept")
	}
	get(t, f.HTTP.URL+"/v1/blobs/"+h2.Hex()+"/parts", 200, &v)
	if v.Size != 0 || len(v.Have) != 0 {
		t.Fatalf("the refused parts are still held: %+v", v)
	}

	// parts untouched past the TTL are swept
	h3 := crypto.Keccak256Hash([]byte("h3"))
	u := f.HTTP.URL + "/v1/blobs/" + h3.Hex() + "/parts/0?size=" + strconv.FormatInt(size, 10)
	if code, e, _ := do(t, http.MethodPut, u, "application/octet-stream", part(0)); code != 200 {
		t.Fatalf("part 0 of h3: %d %s", code, e.Message)
	}
	if _, err := f.Store.Pool.Exec(ctx, `UPDATE blob_parts SET touched_at = now() - interval '2 hours'`); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Server.CollectBlobs(ctx); err != nil {
		t.Fatal(err)
	}
	get(t, f.HTTP.URL+"/v1/blobs/"+h3.Hex()+"/parts", 200, &v)
	if v.Size != 0 || len(v.Have) != 0 {
		t.Fatalf("expired parts kept: %+v", v)
	}
	if ok, _ := f.Bus.HasBlobPart(ctx, h3, 0); ok {
		t.Fatal("an expired part's object is still stored")
	}
}

// The whole size of an upload in parts counts against the quotas from its
// first part: over them, the part is refused and nothing is held.
func TestBlobPartsQuota(t *testing.T) {
	t.Parallel()
	size := int64(coordinator.BlobPartSize) + 1000
	f := newFixture(t, srvpkg.Config{MaxPendingBlobBytes: size - 1})
	blob := make([]byte, coordinator.BlobPartSize)
	h := crypto.Keccak256Hash([]byte("quota"))
	u := f.HTTP.URL + "/v1/blobs/" + h.Hex() + "/parts/0?size=" + strconv.FormatInt(size, 10)
	if code, e, _ := do(t, http.MethodPut, u, "application/octet-stream", blob); code != http.StatusInsufficientStorage || e.Code.Name() != "blob_quota" {
		t.Fatalf("a part of an upload over the quota: %d %s %q", code, e.Code.Name(), e.Message)
	}
	var n int
	if err := f.Store.Pool.QueryRow(context.Background(), `SELECT count(*) FROM blob_parts`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d parts rows (%v)", n, err)
	}
	if ok, _ := f.Bus.HasBlobPart(context.Background(), h, 0); ok {
		t.Fatal("a refused part was stored")
	}
}
