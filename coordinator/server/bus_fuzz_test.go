package server

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/coordinator"
	"github.com/vsc-labs/vsc/coordinator/store"
	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/internal/bus"
	"github.com/vsc-labs/vsc/internal/submission"
	"github.com/vsc-labs/vsc/internal/work"
	"github.com/vsc-labs/vsc/prover"
	"github.com/vsc-labs/vsc/quorum"
	"github.com/vsc-labs/vsc/tee"
)

// FuzzDecodeVotes: a member's vote message decodes to 1 to
// maxVotesPerMessage non-nil votes (a lone vote for the message's own
// submission) or is refused, never panics.
func FuzzDecodeVotes(f *testing.F) {
	key, _ := crypto.GenerateKey()
	v := &quorum.Vote{IDAO: "demo", Submission: common.Hash{1}, Approve: true}
	_ = v.Sign(key, 1337)
	one, _ := json.Marshal(v)
	batch, _ := json.Marshal([]*quorum.Vote{v, v})
	for _, s := range [][]byte{one, batch, []byte(`[null]`), []byte(`  [{}]`), []byte(`{"batch":{"path":[1]}}`), []byte(``)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := &work.Result{Kind: work.VoteKind, SubmissionID: common.Hash{1}, Evidence: data}
		vs, err := decodeVotes(r)
		if err != nil {
			return
		}
		if len(vs) == 0 || len(vs) > maxVotesPerMessage {
			t.Fatalf("%d votes decoded", len(vs))
		}
		for _, v := range vs {
			if v == nil {
				t.Fatal("a nil vote")
			}
		}
		if w := bytes.TrimLeft(data, " \t\r\n"); len(vs) == 1 && (len(w) == 0 || w[0] != '[') && vs[0].Submission != r.SubmissionID {
			t.Fatal("a lone vote for another submission than its message's")
		}
		_ = vs[0].Verify(1337) // garbage signatures and batch proofs never panic
	})
}

// FuzzCheckResult feeds the coordinator's result checks results of any
// kind and evidence, signed by the iDAO's enclave: they never panic, and an
// OK result whose evidence is not the enclave's own is never kept OK.
func FuzzCheckResult(f *testing.F) {
	enc, err := tee.OpenSim(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	contributor, _ := crypto.GenerateKey()
	sub := submission.Submission{IDAO: "demo", Mode: "tee+zk", Class: "dataset", Contributor: crypto.PubkeyToAddress(contributor.PublicKey),
		DataHash: common.Hash{1}, Commitment: common.Hash{2}, Records: 9, Fields: 3}
	target := &store.Target{ID: sub.Digest(1337), Sub: sub, ChainID: 1337, Status: coordinator.Verifying, ZKChunks: 3}
	teePolicy, _ := json.Marshal(enc.Policy())
	dao := &coordinator.Registered{IDAO: &idao.IDAO{Name: "demo", Policy: idao.Policy{Modes: []idao.Mode{idao.ModeTEEZK}, TEEPolicy: teePolicy},
		Members: []idao.Member{{Addr: common.Address{1}, Stake: big.NewInt(1), Pending: new(big.Int)}}},
		Enclave: &coordinator.EnclaveKey{PublicKey: enc.PublicKeyBytes()}}
	vk := common.Hash{3}
	ref, _ := json.Marshal(prover.ChunkRef{Kind: prover.RefKind, VKHash: vk, ChunkSize: 4, Chunks: 3, Index: 1,
		Bucket: bus.ProofBucket, Object: prover.ProofObjectName(target.ID, vk, 1)})
	f.Add("zk", 1, true, []byte(ref))
	f.Add("tee", 0, true, []byte(`{"version":1}`))
	f.Add("optimistic", 0, true, []byte(`"0x01"`))
	f.Add("tee", 0, false, []byte(``))
	s := &Server{cfg: Config{ChainID: 1337}, log: slog.New(slog.DiscardHandler)}
	s.idaoCache.Store("demo", idaoEntry{dao: dao, at: time.Now().Add(100 * 365 * 24 * time.Hour)}) // never expires here
	f.Fuzz(func(t *testing.T, kind string, chunk int, ok bool, evidence []byte) {
		r := &work.Result{JobID: "j", Kind: idao.Kind(kind), SubmissionID: target.ID, Chunk: chunk, OK: ok, Evidence: evidence}
		r.Signer = enc.Address()
		r.Signature, _ = enc.SignMessage(r.Digest())
		if err := s.checkResult(t.Context(), r, target); err != nil {
			return
		}
		if r.OK && kind == "tee" {
			t.Fatalf("fuzzed TEE evidence kept OK: %q", evidence)
		}
		if r.OK && kind == "zk" {
			if ref, err := prover.DecodeRef(r.Evidence); err != nil || ref.Index != chunk || ref.Bucket != bus.ProofBucket {
				t.Fatalf("a zk reference that is not this job's kept OK: %q", evidence)
			}
		}
	})
}
