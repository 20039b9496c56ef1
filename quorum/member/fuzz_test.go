package member

import (
	"context"
	"encoding/json"
	"errors"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/internal/bus"
	"github.com/vsc-labs/vsc/internal/keys"
	"github.com/vsc-labs/vsc/prover"
	"github.com/vsc-labs/vsc/quorum"
	"github.com/vsc-labs/vsc/tee"
)

// FuzzDecodeRequests: a vote-request message decodes to at most
// MaxRequests non-nil requests or is refused, never panics, and a request's
// digest (what a refusal signs) survives the trip over the bus.
func FuzzDecodeRequests(f *testing.F) {
	one, _ := json.Marshal(quorum.VoteRequest{IDAO: "demo", ChainID: chainID, SubmissionID: common.Hash{1},
		Evidence: []quorum.EvidenceItem{{Kind: "tee", Data: []json.RawMessage{json.RawMessage(`{"version": 1}`)}}}})
	for _, s := range [][]byte{one, append(append([]byte("["), one...), ']'), []byte(`[null]`), []byte(` [`), []byte(`{"evidence":[{"data":[1,"<"]}]}`)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		reqs, err := DecodeRequests(data)
		if err != nil {
			return
		}
		if len(reqs) > MaxRequests {
			t.Fatalf("%d requests decoded", len(reqs))
		}
		for _, r := range reqs {
			if r == nil {
				t.Fatal("a nil request")
			}
			raw, err := json.Marshal(r)
			if err != nil {
				continue
			}
			back, err := DecodeRequests(raw)
			if err != nil || len(back) != 1 || back[0].Digest() != r.Digest() {
				t.Fatalf("the request digest changed on the wire: %v", err)
			}
		}
	})
}

// FuzzMemberEvidence feeds a member TEE evidence and zk chunk references of
// any shape, as they come in a vote request: it never panics, never
// approves them, never reads a bucket but the proofs one, and a reference
// it cannot fetch is not refused but asked again.
func FuzzMemberEvidence(f *testing.F) {
	enc, err := tee.OpenSim(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	key, _ := crypto.GenerateKey()
	real := teeRequest(f, enc, "a\n1\n", 0)
	vk := common.HexToHash("0x77")
	ref, _ := json.Marshal(prover.ChunkRef{Kind: prover.RefKind, VKHash: vk, ChunkSize: 4, Chunks: 1, Bucket: bus.ProofBucket,
		Object: prover.ProofObjectName(real.SubmissionID, vk, 0), Count: 1})
	f.Add(false, []byte(real.Evidence[0].Data[0]))
	f.Add(false, []byte(`{"version":1,"enclave_key":"0x04","report":{"backend":"sim","report":"0x00"}}`))
	f.Add(true, ref)
	f.Add(true, []byte(`{"kind":"zk-chunk","chunks":1,"chunk_size":1,"object":"x","bucket":"OBJ_x"}`))
	tp, _ := json.Marshal(enc.Policy())
	dao, err := idao.New("demo", keys.Address(key), idao.Policy{Modes: []idao.Mode{"tee", "zk"}, TEEPolicy: tp, VKHash: vk}, big.NewInt(1000), 0, 0, idao.DefaultParams())
	if err != nil {
		f.Fatal(err)
	}
	store := &proofStore{data: map[string][]byte{}}
	m, err := New(Config{Key: key, ChainID: chainID, DataDir: f.TempDir()}, onChain(dao, enc), store, someVK{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { m.Close() })
	f.Fuzz(func(t *testing.T, zk bool, data []byte) {
		req := *real
		req.Submission.Mode, req.Evidence = "tee", []quorum.EvidenceItem{{Kind: "tee", Data: []json.RawMessage{data}}}
		if zk {
			req.Submission.Mode, req.Evidence = "zk", []quorum.EvidenceItem{{Kind: "zk", Data: []json.RawMessage{data}}}
		}
		req.SubmissionID = req.Submission.Digest(chainID)
		v, err := m.decide(context.Background(), &req, map[string]*idao.IDAO{})
		if err != nil && !errors.Is(err, ErrCouldNotCheck) {
			t.Fatalf("no vote and not a could-not-check: %v", err)
		}
		if v != nil && v.Approve && string(data) != string(real.Evidence[0].Data[0]) {
			t.Fatalf("approved fuzzed evidence %q", data)
		}
		store.mu.Lock()
		defer store.mu.Unlock()
		for _, b := range store.buckets {
			if b != bus.ProofBucket {
				t.Fatalf("read bucket %q", b)
			}
		}
	})
}
