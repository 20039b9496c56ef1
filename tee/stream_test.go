package tee

import (
	"bytes"
	"crypto/rand"
	"reflect"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/internal/envelope"
	"github.com/vsc-labs/vsc/internal/records"
	"github.com/vsc-labs/vsc/tee/facts"
)

// sealChunked seals data in chunks of chunk bytes under a fresh key and
// returns the job (a stream), the blob and the data key.
func sealChunked(t *testing.T, enc *Enclave, data []byte, chunk int) (Job, []byte, []byte) {
	t.Helper()
	ds, err := records.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, envelope.KeySize)
	rand.Read(key)
	var blob bytes.Buffer
	w, err := envelope.NewWriter(&blob, key, chunk)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	j, _ := client(t, enc, data, 1)
	j.Submission.Commitment, j.Submission.Records, j.Submission.Fields = records.Commitment(ds), uint64(ds.Len()), uint32(len(ds.Fields))
	setBlob(t, enc, &j, key, blob.Bytes())
	return j, blob.Bytes(), key
}

// setBlob makes j's blob b, its key wrapped for b's data hash.
func setBlob(t *testing.T, enc *Enclave, j *Job, key, b []byte) {
	t.Helper()
	dh := crypto.Keccak256Hash(b)
	wrapped, err := envelope.Wrap(key, dh, enc.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	j.Submission.DataHash, j.Submission.WrappedKeyHash = dh, crypto.Keccak256Hash(wrapped)
	j.WrappedKey, j.Blob, j.Stream = wrapped, nil, bytes.NewReader(b)
}

// A multi-chunk dataset checked as a stream gives the commitment and facts
// computed on the plaintext directly; a tampered stream is rejected with
// the envelope's own reason, and a stream of another blob is not judged.
func TestProcessStream(t *testing.T) {
	t.Parallel()
	enc := openSim(t, DefaultSimConfig(testRoot))
	data := append(csvData(3000, 3), []byte("1,1,1,1\n1,1,1,1\n")...)
	ds, err := records.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	j, blob, key := sealChunked(t, enc, data, 4096)
	out := process(t, enc, j)
	want, _ := facts.Compute(ds, facts.DefaultParams)
	if out.Status != StatusVerified || out.Evidence.Commitment != records.Commitment(ds) || !reflect.DeepEqual(out.Evidence.Facts, want) {
		t.Fatalf("stream outcome %+v", out)
	}
	if _, err := VerifyEvidence(devPolicy(), out.Evidence, &j.Submission, testChain); err != nil {
		t.Fatalf("stream evidence: %v", err)
	}
	// two chunks swapped (the data hash signed is the tampered blob's, as a
	// lying contributor would sign)
	bad := bytes.Clone(blob)
	c := 4096 + envelope.ChunkOverhead
	s1, s2 := envelope.StreamHeaderSize, envelope.StreamHeaderSize+c
	tmp := bytes.Clone(bad[s1 : s1+c])
	copy(bad[s1:s1+c], bad[s2:s2+c])
	copy(bad[s2:s2+c], tmp)
	jb := j
	setBlob(t, enc, &jb, key, bad)
	if out := process(t, enc, jb); out.Status != StatusRejected || !strings.Contains(out.Reason, "out of its place") {
		t.Fatalf("swapped chunks: %+v", out)
	}
	// the storage hands over another blob than the one signed: an error, not a verdict
	jo := j
	jo.Stream = bytes.NewReader(blob[:len(blob)-1])
	if _, err := enc.Process(jo); err == nil {
		t.Fatal("a blob of another data hash was judged")
	}
}
