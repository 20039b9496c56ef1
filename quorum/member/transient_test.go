package member

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"sync"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/internal/bus"
	"github.com/vsc-labs/vsc/internal/keys"
	"github.com/vsc-labs/vsc/internal/submission"
	"github.com/vsc-labs/vsc/prover"
	"github.com/vsc-labs/vsc/quorum"
	"github.com/vsc-labs/vsc/tee"
)

// flakyChain fails its reads while down.
type flakyChain struct {
	chainState
	mu   sync.Mutex
	down bool
}

func (c *flakyChain) IDAO(name string) (*idao.IDAO, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.down {
		return nil, errors.New("connection refused")
	}
	return c.chainState.IDAO(name)
}

// What a member could not check (the chain out of reach, chain lag) is
// never signed as a refusal, and a refusal never stops it approving later.
func TestCouldNotCheckIsNoRefusal(t *testing.T) {
	t.Parallel()
	enc, _ := tee.OpenSim(t.TempDir())
	key, _ := crypto.GenerateKey()
	ch := &flakyChain{chainState: onChain(demoIDAO(t, enc, key), enc), down: true}
	m, err := New(Config{Key: key, ChainID: chainID, DataDir: t.TempDir()}, ch, nil, noVKs{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx := context.Background()
	req := teeRequest(t, enc, "a\n1\n", 0)
	if v, err := m.Decide(ctx, req); v != nil || !errors.Is(err, ErrCouldNotCheck) {
		t.Fatalf("chain down: vote %+v, err %v; want no vote and ErrCouldNotCheck", v, err)
	}
	ch.mu.Lock()
	ch.down = false
	ch.mu.Unlock()
	if v, err := m.Decide(ctx, req); err != nil || !v.Approve {
		t.Fatalf("chain back: %v %+v", err, v)
	}
}

// A forged vote request (the real signed submission with forged evidence)
// gets a refusal that names the forged request, and the member still
// approves the real request afterwards.
func TestForgedRequestVetoesNothing(t *testing.T) {
	t.Parallel()
	enc, _ := tee.OpenSim(t.TempDir())
	key, _ := crypto.GenerateKey()
	m := newMember(t, t.TempDir(), key, onChain(demoIDAO(t, enc, key), enc), false)
	defer m.Close()
	ctx := context.Background()
	real := teeRequest(t, enc, "a\n1\n2\n", 0)
	forged := *real
	forged.Evidence = []quorum.EvidenceItem{{Kind: "tee", Data: []json.RawMessage{json.RawMessage(`{"version":1}`)}}}
	refusal, err := m.Decide(ctx, &forged)
	if err != nil || refusal.Approve || refusal.ResultDigest != forged.Digest() || refusal.ResultDigest == real.Digest() {
		t.Fatalf("forged request: %v %+v", err, refusal)
	}
	v, err := m.Decide(ctx, real)
	if err != nil || !v.Approve {
		t.Fatalf("the real request after a forged one: %v %+v", err, v)
	}
	// the digest survives the trip over the bus (the member sees compact JSON)
	wire, _ := json.Marshal(real)
	got, _ := DecodeRequests(wire)
	if got[0].Digest() != real.Digest() {
		t.Fatal("a request's digest changes on the wire")
	}
}

// proofStore is a bus of proofs that records which buckets are read.
type proofStore struct {
	mu      sync.Mutex
	buckets []string
	data    map[string][]byte
	err     error
}

func (p *proofStore) GetObject(_ context.Context, bucket, name string, max int) ([]byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buckets = append(p.buckets, bucket)
	if p.err != nil {
		return nil, p.err
	}
	b, ok := p.data[name]
	if !ok {
		return nil, bus.ErrNotFound
	}
	if len(b) > max {
		return nil, bus.ErrTooLarge
	}
	return b, nil
}

type someVK struct{}

func (someVK) VerifyingKey(h common.Hash) (*prover.VerifyingKey, error) {
	return &prover.VerifyingKey{Hash: h}, nil
}

// Members read proofs only from the proofs bucket, capped, and tell a
// proof they could not fetch (ask again) from evidence that is wrong.
func TestMemberReadsOnlyKnownBucketsCapped(t *testing.T) {
	t.Parallel()
	key, contributor := mustKey(t), mustKey(t)
	vk := common.HexToHash("0x77")
	dao, err := idao.New("demo", keys.Address(key), idao.Policy{Modes: []idao.Mode{"zk"}, VKHash: vk}, big.NewInt(1000), 0, 0, idao.DefaultParams())
	if err != nil {
		t.Fatal(err)
	}
	sub := submission.Submission{IDAO: "demo", Mode: "zk", Class: "dataset", Contributor: keys.Address(contributor),
		DataHash: common.HexToHash("0x1"), Commitment: common.HexToHash("0x2"), Records: 4, Nonce: 0, Fields: 4}
	sig, _ := sub.Sign(chainID, contributor)
	id := sub.Digest(chainID)
	request := func(bucket string) *quorum.VoteRequest {
		ref, _ := json.Marshal(prover.ChunkRef{Kind: prover.RefKind, VKHash: vk, ChunkSize: 4, Chunks: 1, Index: 0,
			Bucket: bucket, Object: prover.ProofObjectName(id, vk, 0), Count: 4})
		return &quorum.VoteRequest{IDAO: "demo", ChainID: chainID, SubmissionID: id, Submission: sub, Signature: sig,
			Evidence: []quorum.EvidenceItem{{Kind: "zk", Data: []json.RawMessage{ref}}}}
	}
	store := &proofStore{data: map[string][]byte{prover.ProofObjectName(id, vk, 0): make([]byte, MaxProofObject+1)}}
	m, err := New(Config{Key: key, ChainID: chainID, DataDir: t.TempDir()}, onChain(dao), store, someVK{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx := context.Background()
	for _, c := range []struct {
		name, bucket, says string
		fetchErr           error
		retry              bool
	}{
		{"a bucket named by the evidence", "OBJ_evil", "names bucket", nil, false},
		{"a proof over the cap", bus.ProofBucket, "larger than allowed", nil, false},
		{"a proof that cannot be fetched now", bus.ProofBucket, "timeout", errors.New("nats: timeout"), true},
	} {
		store.err = c.fetchErr
		v, err := m.Decide(ctx, request(c.bucket))
		if c.retry {
			if v != nil || !errors.Is(err, ErrCouldNotCheck) || !strings.Contains(err.Error(), c.says) {
				t.Errorf("%s: vote %+v err %v, want no vote and ErrCouldNotCheck", c.name, v, err)
			}
			continue
		}
		if err != nil || v.Approve || !strings.Contains(v.Reason, c.says) {
			t.Errorf("%s: %v %+v, want a refusal saying %q", c.name, err, v, c.says)
		}
	}
	for _, b := range store.buckets {
		if b != bus.ProofBucket {
			t.Fatalf("the member read bucket %q", b)
		}
	}
}

func mustKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}
