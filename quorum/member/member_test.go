package member

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/internal/envelope"
	"github.com/vsc-labs/vsc/internal/keys"
	"github.com/vsc-labs/vsc/internal/records"
	"github.com/vsc-labs/vsc/internal/submission"
	"github.com/vsc-labs/vsc/prover"
	"github.com/vsc-labs/vsc/quorum"
	"github.com/vsc-labs/vsc/tee"
)

const chainID = 1337

// chainState is the chain as the member reads it: an iDAO value and the
// enclave keys registered for it.
type chainState struct {
	dao      *idao.IDAO
	enclaves map[string]bool
}

// onChain is the chain holding dao with encs' keys registered.
func onChain(dao *idao.IDAO, encs ...*tee.Enclave) chainState {
	c := chainState{dao: dao, enclaves: map[string]bool{}}
	for _, e := range encs {
		c.enclaves[string(e.PublicKeyBytes())] = true
	}
	return c
}

func (c chainState) IDAO(name string) (*idao.IDAO, error) {
	if name != c.dao.Name {
		return nil, errors.New("no such iDAO")
	}
	return c.dao, nil
}

func (c chainState) EnclaveRegistered(name string, pub []byte) (bool, error) {
	if name != c.dao.Name {
		return false, errors.New("no such iDAO")
	}
	return c.enclaves[string(pub)], nil
}

type noVKs struct{}

func (noVKs) VerifyingKey(common.Hash) (*prover.VerifyingKey, error) { return nil, errors.New("none") }

// teeRequest runs a real (simulated) enclave over a dataset and returns the
// vote request a coordinator would send.
func teeRequest(t testing.TB, enc *tee.Enclave, data string, nonce uint64) *quorum.VoteRequest {
	t.Helper()
	contributor, _ := crypto.GenerateKey()
	ds, err := records.Parse([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := envelope.Seal([]byte(data), enc.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	sub := submission.Submission{IDAO: "demo", Mode: "tee", Class: "dataset", Contributor: keys.Address(contributor),
		DataHash: sealed.DataHash, Commitment: records.Commitment(ds), Records: uint64(ds.Len()), Fields: uint32(len(ds.Fields)),
		WrappedKeyHash: sealed.WrappedKeyHash(), Nonce: nonce}
	sig, _ := sub.Sign(chainID, contributor)
	out, err := enc.Process(tee.Job{ChainID: chainID, Submission: sub, WrappedKey: sealed.WrappedKey, Blob: sealed.Blob})
	if err != nil || out.Status != tee.StatusVerified {
		t.Fatalf("enclave: %v %+v", err, out)
	}
	raw, _ := json.Marshal(out.Evidence)
	return &quorum.VoteRequest{IDAO: "demo", ChainID: chainID, SubmissionID: sub.Digest(chainID), Submission: sub,
		Signature: sig, Evidence: []quorum.EvidenceItem{{Kind: "tee", Data: []json.RawMessage{raw}}}}
}

func newMember(t *testing.T, dir string, key *ecdsa.PrivateKey, ch Chain, lie bool) *Member {
	t.Helper()
	m, err := New(Config{Key: key, ChainID: chainID, DataDir: dir, LieDigest: lie}, ch, nil, noVKs{})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// demoIDAO is iDAO demo of members, whose TEE policy accepts enc.
func demoIDAO(t *testing.T, enc *tee.Enclave, members ...*ecdsa.PrivateKey) *idao.IDAO {
	t.Helper()
	p, _ := json.Marshal(enc.Policy())
	dao, err := idao.New("demo", keys.Address(members[0]), idao.Policy{Modes: []idao.Mode{"tee"}, TEEPolicy: p}, nil, 0, 0, idao.DefaultParams())
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range members {
		if err := dao.Join(keys.Address(k), big.NewInt(1000), 0, idao.DefaultParams()); err != nil {
			t.Fatal(err)
		}
	}
	return dao
}

func TestMemberVerifiesAndSigns(t *testing.T) {
	t.Parallel()
	enc, err := tee.OpenSim(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	key, _ := crypto.GenerateKey()
	outsider, _ := crypto.GenerateKey()
	dao := onChain(demoIDAO(t, enc, key), enc)
	dir := t.TempDir()
	m := newMember(t, dir, key, dao, false)
	ctx := context.Background()

	req := teeRequest(t, enc, "a,b\n1,2\n3,4\n", 0)
	v, err := m.Decide(ctx, req)
	if err != nil || !v.Approve {
		t.Fatalf("good evidence: %v %+v", err, v)
	}
	var ev tee.Evidence
	_ = json.Unmarshal(req.Evidence[0].Data[0], &ev)
	if v.ResultDigest != ev.ResultDigest || v.Verify(chainID) != nil || v.Member != keys.Address(key) {
		t.Fatalf("vote %+v", v)
	}

	t.Run("tampered evidence is refused with a reason", func(t *testing.T) {
		bad := teeRequest(t, enc, "a\n5\n", 1)
		var e map[string]any
		_ = json.Unmarshal(bad.Evidence[0].Data[0], &e)
		e["result_digest"] = common.HexToHash("0x1234").Hex()
		bad.Evidence[0].Data[0], _ = json.Marshal(e)
		v, err := m.Decide(ctx, bad)
		if err != nil || v.Approve || v.Reason == "" || v.Verify(chainID) != nil {
			t.Fatalf("tampered: %v %+v", err, v)
		}
	})
	t.Run("forged contributor signature", func(t *testing.T) {
		bad := teeRequest(t, enc, "a\n6\n", 2)
		bad.Signature[5] ^= 1
		v, err := m.Decide(ctx, bad)
		if err != nil || v.Approve || !strings.Contains(v.Reason, "signature") {
			t.Fatalf("forged: %v %+v", err, v)
		}
	})
	t.Run("never two digests for one submission, across restarts", func(t *testing.T) {
		m.Close()
		liar := newMember(t, dir, key, dao, true) // same key, same record, now asked to sign another digest
		defer liar.Close()
		if _, err := liar.Decide(ctx, req); !errors.Is(err, ErrEquivocation) {
			t.Fatalf("second digest: err = %v", err)
		}
	})
	t.Run("not a member", func(t *testing.T) {
		o := newMember(t, t.TempDir(), outsider, dao, false)
		defer o.Close()
		if _, err := o.Decide(ctx, req); err == nil || !strings.Contains(err.Error(), "not a staked member") {
			t.Fatalf("outsider: err = %v", err)
		}
	})
}

func TestLyingMemberSignsAnotherDigest(t *testing.T) {
	t.Parallel()
	enc, _ := tee.OpenSim(t.TempDir())
	honest, _ := crypto.GenerateKey()
	liar, _ := crypto.GenerateKey()
	dao := onChain(demoIDAO(t, enc, honest, liar), enc)
	req := teeRequest(t, enc, "a\n1\n", 0)
	h := newMember(t, t.TempDir(), honest, dao, false)
	defer h.Close()
	l := newMember(t, t.TempDir(), liar, dao, true)
	defer l.Close()
	hv, _ := h.Decide(context.Background(), req)
	lv, _ := l.Decide(context.Background(), req)
	if hv.ResultDigest == lv.ResultDigest || !lv.Approve {
		t.Fatal("the faulty member should approve a different digest")
	}
}

func TestMemberSignsABatchOnce(t *testing.T) {
	t.Parallel()
	enc, err := tee.OpenSim(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	key, _ := crypto.GenerateKey()
	dao := onChain(demoIDAO(t, enc, key), enc)
	dir := t.TempDir()
	m := newMember(t, dir, key, dao, false)
	ctx := context.Background()
	var reqs []*quorum.VoteRequest
	for i := range 5 {
		reqs = append(reqs, teeRequest(t, enc, fmt.Sprintf("a\n%d\n", i), uint64(i)))
	}
	reqs[3].Signature[5] ^= 1 // refused with a reason, still in the batch
	votes, errs := m.DecideBatch(ctx, reqs)
	for i, v := range votes {
		if errs[i] != nil || v == nil {
			t.Fatalf("request %d: %v", i, errs[i])
		}
		if v.Batch == nil || v.Batch.Size != 5 || string(v.Signature) != string(votes[0].Signature) {
			t.Fatalf("vote %d is not part of one signed batch: %+v", i, v.Batch)
		}
		if err := v.Verify(chainID); err != nil || v.Member != keys.Address(key) {
			t.Fatalf("vote %d: %v", i, err)
		}
		if v.Approve != (i != 3) {
			t.Fatalf("vote %d approve=%v (%s)", i, v.Approve, v.Reason)
		}
	}
	// the same member, now lying, gets a batch with a known submission and a
	// new one: the known one is refused as an equivocation, the new one signed
	m.Close()
	liar := newMember(t, dir, key, dao, true)
	defer liar.Close()
	fresh := teeRequest(t, enc, "a\n99\n", 99)
	votes, errs = liar.DecideBatch(ctx, []*quorum.VoteRequest{reqs[0], fresh})
	if votes[0] != nil || !errors.Is(errs[0], ErrEquivocation) {
		t.Fatalf("second digest in a batch: %v", errs[0])
	}
	if votes[1] == nil || errs[1] != nil || votes[1].Verify(chainID) != nil {
		t.Fatalf("the rest of the batch: %v", errs[1])
	}
	// the wire form: a JSON array of requests decodes to the batch
	raw, _ := json.Marshal(reqs[:2])
	got, err := DecodeRequests(raw)
	if err != nil || len(got) != 2 || got[1].SubmissionID != reqs[1].SubmissionID {
		t.Fatalf("DecodeRequests: %v", err)
	}
}
