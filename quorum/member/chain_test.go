package member

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/chain"
	"github.com/vsc-labs/vsc/chain/node"
	"github.com/vsc-labs/vsc/chain/proof"
	"github.com/vsc-labs/vsc/chain/state"
	"github.com/vsc-labs/vsc/chain/tx"
	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/internal/keys"
	"github.com/vsc-labs/vsc/tee"
)

// testChain is a real chain node holding iDAO demo (members staked, the
// enclave registered) behind an HTTP proxy that can be told to lie.
type testChain struct {
	n     *node.Node
	owner *ecdsa.PrivateKey
	proxy *httptest.Server
	mu    sync.Mutex
	lie   func(path string, body []byte) []byte // nil: pass answers through
}

func startTestChain(t *testing.T, enc *tee.Enclave, members ...*ecdsa.PrivateKey) *testChain {
	t.Helper()
	seq, _ := crypto.GenerateKey()
	g := &chain.Genesis{ChainID: chainID, Time: uint64(time.Now().UnixMilli()), Sequencer: keys.Address(seq), GasPrice: "1",
		Alloc: map[common.Address]string{}}
	for _, m := range members {
		g.Alloc[keys.Address(m)] = "1000000000000000000000"
	}
	n, err := node.New(node.Config{DataDir: t.TempDir(), Genesis: g, SequencerKey: seq, BlockTime: 5 * time.Millisecond, Enclave: tee.KeyRegistry{}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); n.Close() })
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	c := &testChain{n: n, owner: members[0]}
	policy, _ := json.Marshal(enc.Policy())
	c.send(t, members[0], &tx.IDAOCreate{Name: "demo", Policy: idao.Policy{Modes: []idao.Mode{"tee"}, TEEPolicy: policy}, Stake: big.NewInt(1000)})
	for _, m := range members[1:] {
		c.send(t, m, &tx.IDAOJoin{Name: "demo", Amount: big.NewInt(1000)})
	}
	c.send(t, members[0], &tx.EnclaveRegister{IDAO: "demo", PubKey: enc.PublicKeyBytes(), Report: tee.EncodeAttestation(enc.KeyAttestation())})
	h := n.Handler()
	c.proxy = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		c.mu.Lock()
		lie := c.lie
		c.mu.Unlock()
		if lie != nil {
			body = lie(r.URL.Path, body)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(rec.Code)
		_, _ = w.Write(body)
	}))
	t.Cleanup(c.proxy.Close)
	return c
}

func (c *testChain) lying(f func(path string, body []byte) []byte) {
	c.mu.Lock()
	c.lie = f
	c.mu.Unlock()
}

func (c *testChain) send(t *testing.T, key *ecdsa.PrivateKey, body tx.Body) {
	t.Helper()
	x, err := tx.New(c.n.ChainID(), c.n.NextNonce(keys.Address(key)), new(big.Int).Mul(c.n.Fee(body), big.NewInt(2)), body)
	if err != nil {
		t.Fatal(err)
	}
	if x, err = x.Sign(key); err != nil {
		t.Fatal(err)
	}
	h, err := c.n.SubmitTx(x)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	info, err := c.n.WaitReceipt(ctx, h)
	if err != nil || info.Receipt.Status != chain.StatusSuccess {
		t.Fatalf("%s: %v %+v", body.Kind(), err, info)
	}
}

// rewriteIDAO returns a lie that edits the iDAO value inside a state proof.
func rewriteIDAO(edit func(d *idao.IDAO)) func(string, []byte) []byte {
	return func(path string, body []byte) []byte {
		if !strings.HasSuffix(path, "/proof") {
			return body
		}
		var p proof.Proof
		if json.Unmarshal(body, &p) != nil || p.State == nil {
			return body
		}
		d := new(idao.IDAO)
		if state.Decode(p.State.Value, d) != nil {
			return body
		}
		edit(d)
		p.State.Value = state.Encode(d)
		return p.Marshal()
	}
}

// A member that runs apart from the sequencer reads its iDAO through proofs:
// a chain API that forges the iDAO (a stake, a TEE policy), answers with
// another chain's state, or replays an old head gets no vote out of it —
// and no refusal either, so the member votes once it reads the truth.
func TestMemberRefusesForgedChainState(t *testing.T) {
	t.Parallel()
	encDir := t.TempDir()
	enc, err := tee.OpenSim(encDir)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := crypto.GenerateKey()
	other, _ := crypto.GenerateKey()
	c := startTestChain(t, enc, key, other)
	pc := NewProvenChain(c.proxy.URL, c.n.Sequencer())
	m, err := New(Config{Key: key, ChainID: chainID, DataDir: t.TempDir()}, pc, nil, noVKs{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx := context.Background()

	attacker := tee.SimPolicy(common.Address{0xa7})
	attackerPolicy, _ := json.Marshal(attacker)
	for i, tc := range []struct {
		name string
		lie  func(string, []byte) []byte
		says string
	}{
		{"forged enclave registration", func(path string, body []byte) []byte {
			if !strings.Contains(path, "/enclaves/") {
				return body
			}
			var p proof.IDAO
			if json.Unmarshal(body, &p) != nil || len(p.Enclaves) != 1 {
				return body
			}
			p.Enclaves[0].Value = state.Encode(&state.Enclave{IDAO: "demo", PubKey: enc.PublicKeyBytes(), Report: []byte("{}")})
			b, _ := json.Marshal(&p)
			return b
		}, "does not verify"},
		{"forged stake", rewriteIDAO(func(d *idao.IDAO) { d.Members[0].Stake = big.NewInt(1_000_000) }), "does not verify"},
		{"forged TEE policy", rewriteIDAO(func(d *idao.IDAO) { d.Policy.TEEPolicy = attackerPolicy }), "does not verify"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.lying(tc.lie)
			defer c.lying(nil)
			req := teeRequest(t, enc, "a\n7\n", uint64(i))
			v, err := m.Decide(ctx, req)
			if v != nil || err == nil || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("vote %+v, err %v; want no vote, an error saying %q", v, err, tc.says)
			}
			c.lying(nil)
			if v, err := m.Decide(ctx, req); err != nil || !v.Approve {
				t.Fatalf("once the API tells the truth: %v %+v", err, v)
			}
		})
	}

	t.Run("another chain's state", func(t *testing.T) {
		impostor := startTestChain(t, enc, key, other) // same iDAO, its own sequencer
		c.lying(func(path string, body []byte) []byte {
			resp, err := http.Get(impostor.proxy.URL + path)
			if err != nil {
				return body
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return b
		})
		defer c.lying(nil)
		if _, err := pc.IDAO("demo"); err == nil || !strings.Contains(err.Error(), "the trusted sequencer is") {
			t.Fatalf("another chain's iDAO: %v", err)
		}
	})

	t.Run("old head replayed", func(t *testing.T) {
		old, err := http.Get(c.proxy.URL + "/v1/chain/idaos/demo/proof")
		if err != nil {
			t.Fatal(err)
		}
		stale, _ := io.ReadAll(old.Body)
		old.Body.Close()
		c.send(t, other, &tx.IDAOJoin{Name: "demo", Amount: big.NewInt(5)})
		if _, err := pc.IDAO("demo"); err != nil {
			t.Fatal(err)
		}
		c.lying(func(path string, body []byte) []byte {
			if strings.HasSuffix(path, "/proof") {
				return stale
			}
			return body
		})
		defer c.lying(nil)
		if _, err := pc.IDAO("demo"); err == nil || !strings.Contains(err.Error(), "older than block") {
			t.Fatalf("replayed head: %v", err)
		}
	})

	t.Run("attested enclave the iDAO never registered", func(t *testing.T) {
		root, err := tee.LoadOrCreateSimRoot(filepath.Join(encDir, tee.SimRootFile))
		if err != nil {
			t.Fatal(err)
		}
		unregistered, err := tee.Open(tee.NewSim(tee.DefaultSimConfig(root)), t.TempDir()) // same root, its own key
		if err != nil {
			t.Fatal(err)
		}
		v, err := m.Decide(ctx, teeRequest(t, unregistered, "a\n8\n", 80))
		if err != nil || v.Approve || !strings.Contains(v.Reason, "not registered on chain") {
			t.Fatalf("unregistered enclave: %v %+v", err, v)
		}
	})
}
