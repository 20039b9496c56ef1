package worker

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"crypto/ecdsa"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/internal/bus"
	"github.com/vsc-labs/vsc/internal/envelope"
	"github.com/vsc-labs/vsc/internal/records"
	"github.com/vsc-labs/vsc/internal/submission"
	"github.com/vsc-labs/vsc/internal/work"
	"github.com/vsc-labs/vsc/prover"
)

// secret is a cell value that no reason and no log line may quote.
const secret = "6620938417"

// lockedBuffer is a log sink safe for the worker's goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// rawJob seals any plaintext (even one that does not parse) as a one-chunk
// job declaring n records.
func rawJob(t *testing.T, b *bus.Bus, enclave *ecdsa.PrivateKey, plain string, n uint64) work.Job {
	t.Helper()
	sealed, err := envelope.Seal([]byte(plain), &enclave.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	commitment, fields := common.Hash{1}, uint32(1)
	if ds, err := records.Parse([]byte(plain)); err == nil {
		commitment, fields = records.Commitment(ds), uint32(len(ds.Fields))
	}
	contributor, _ := crypto.GenerateKey()
	sub := submission.Submission{IDAO: "demo", Mode: "zk", Class: "dataset", Contributor: crypto.PubkeyToAddress(contributor.PublicKey),
		DataHash: sealed.DataHash, Commitment: commitment, Records: n, WrappedKeyHash: sealed.WrappedKeyHash(), Nonce: 1, Fields: fields}
	sig, err := sub.Sign(chainID, contributor)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.PutBlob(context.Background(), sealed.DataHash, sealed.Blob); err != nil {
		t.Fatal(err)
	}
	return work.Job{ID: "job-secret", Kind: Kind, ChainID: chainID, SubmissionID: sub.Digest(chainID), Submission: sub,
		Signature: sig, WrappedKey: sealed.WrappedKey, Chunk: 0, Chunks: prover.Chunks(int(n), chunk), ChunkSize: chunk}
}

// TestRejectionsNeverQuoteValues feeds the prover datasets holding a
// distinctive value where each rejection happens (the parser, the range
// check) and asserts that the value is in neither the public reason nor the
// worker's logs; the reason still says where.
func TestRejectionsNeverQuoteValues(t *testing.T) {
	t.Parallel()
	enclave, _ := crypto.GenerateKey()
	b, workerBus := newBus(t, bus.Config{}, enclave)
	var logs lockedBuffer
	narrow := func(j work.Job, fields int) (prover.Shape, error) {
		return prover.NewShape(j.ChunkSize, fields, prover.SignedRange(32)), nil
	}
	w := New(Config{Keys: keyManager(t), EnclaveKey: enclave, Shape: narrow, Log: slog.New(slog.NewTextHandler(&logs, nil))}, workerBus)
	for _, tc := range []struct {
		name, plain string
		records     uint64
		where       string
	}{
		{"text cell", "x,y\n1,2\n3,v" + secret + "\n", 2, "line 3, column 2"},
		{"decimal cell", "x,y\n1," + secret + ".25\n", 1, "line 2, column 2"},
		{"jsonl string", "{\"x\":1}\n{\"x\":\"" + secret + "\"}\n", 2, "line 2, field 1"},
		{"header-less file", secret + ",1\n2,x\n", 1, "line 2, column 2"},
		{"value outside the circuit's range", "x,y\n1,2\n3," + secret + "\n", 2, "record 2, column 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := w.Handle(context.Background(), rawJob(t, b, enclave, tc.plain, tc.records))
			if err != nil {
				t.Fatal(err)
			}
			if !res.Rejected || !strings.Contains(res.Reason, tc.where) {
				t.Fatalf("result %+v: want a rejection naming %q", res, tc.where)
			}
			if strings.Contains(res.Reason, secret) {
				t.Fatalf("the reason quotes the value: %s", res.Reason)
			}
		})
	}
	if strings.Contains(logs.String(), secret) {
		t.Fatalf("the logs quote the value:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "zk job rejected") {
		t.Fatal("the rejections were not logged (the log check saw nothing)")
	}
}
