package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/chain"
	"github.com/vsc-labs/vsc/chain/node"
	"github.com/vsc-labs/vsc/chain/proof"
	"github.com/vsc-labs/vsc/chain/state"
	"github.com/vsc-labs/vsc/chain/tx"
	"github.com/vsc-labs/vsc/coordinator"
	"github.com/vsc-labs/vsc/coordinator/client"
	srvpkg "github.com/vsc-labs/vsc/coordinator/server"
	"github.com/vsc-labs/vsc/coordinator/server/servertest"
	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/internal/testenv"
	"github.com/vsc-labs/vsc/tee"
)

// impostor is a chain of the attacker's own (its own sequencer) holding an
// iDAO demo whose policy trusts the attacker's enclave, registered there.
func impostor(t *testing.T, enc *tee.Enclave) string {
	t.Helper()
	seq, _ := crypto.GenerateKey()
	owner, _ := crypto.GenerateKey()
	g := &chain.Genesis{ChainID: servertest.ChainID, Time: uint64(time.Now().UnixMilli()), Sequencer: crypto.PubkeyToAddress(seq.PublicKey),
		GasPrice: "1", Alloc: map[common.Address]string{crypto.PubkeyToAddress(owner.PublicKey): "1000000000"}}
	n, err := node.New(node.Config{DataDir: t.TempDir(), Genesis: g, SequencerKey: seq, BlockTime: 5 * time.Millisecond, Enclave: tee.KeyRegistry{}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); n.Close() })
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	policy, _ := json.Marshal(enc.Policy())
	for _, b := range []tx.Body{
		&tx.IDAOCreate{Name: "demo", Policy: idao.Policy{Modes: []idao.Mode{"tee+zk", "tee", "zk"}, TEEPolicy: policy}, Stake: big.NewInt(1000)},
		&tx.EnclaveRegister{IDAO: "demo", PubKey: enc.PublicKeyBytes(), Report: tee.EncodeAttestation(enc.KeyAttestation())},
	} {
		if err := servertest.Send(ctx, n, owner, b); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(n.Handler())
	t.Cleanup(srv.Close)
	return srv.URL
}

// editProof rewrites the proven iDAO (and its enclave proofs) in an answer
// of GET /v1/chain/idaos/demo/enclaves[/{pubkey}].
func editProof(edit func(p *proof.IDAO)) func(string, []byte) []byte {
	return func(path string, body []byte) []byte {
		if !strings.HasPrefix(path, "/v1/chain/idaos/demo/enclaves") {
			return body
		}
		var p proof.IDAO
		if json.Unmarshal(body, &p) != nil {
			return body
		}
		edit(&p)
		b, _ := json.Marshal(&p)
		return b
	}
}

// editIDAOView rewrites the coordinator's answer of GET /v1/idaos/demo.
func editIDAOView(edit func(v *coordinator.IDAOView)) func(string, []byte) []byte {
	return func(path string, body []byte) []byte {
		if path != "/v1/idaos/demo" {
			return body
		}
		var v coordinator.IDAOView
		if json.Unmarshal(body, &v) != nil {
			return body
		}
		edit(&v)
		b, _ := json.Marshal(&v)
		return b
	}
}

// The client wraps a data key only to an enclave key that the chain proves
// registered for the iDAO and that attests under the iDAO's proven TEE
// policy. A lying coordinator or chain API (here a proxy rewriting the real
// answers) gets a refusal with a stable code before anything is uploaded.
func TestPrepareRefusesALyingAPI(t *testing.T) {
	t.Parallel()
	f := servertest.NewWithChain(t, srvpkg.Config{})
	attacker, err := tee.OpenSim(t.TempDir()) // a simulated enclave under the attacker's own root
	if err != nil {
		t.Fatal(err)
	}
	attackerPolicy, _ := json.Marshal(attacker.Policy())
	fake := impostor(t, attacker)
	px := testenv.LyingProxy(t, f.HTTP.URL)
	contributor, _ := crypto.GenerateKey()
	ctx := context.Background()

	// submit is what `vsc submit` does: prepare (every check), then upload and sign.
	submit := func(c *client.Client) error {
		p, err := c.Prepare(ctx, []byte("x,y\n1,2\n3,4\n"), client.PrepareOptions{IDAO: "demo", Mode: "tee", Contributor: crypto.PubkeyToAddress(contributor.PublicKey)})
		if err != nil {
			return err
		}
		sig, _ := p.Sign(contributor)
		_, _, err = c.Submit(ctx, p.Request(sig), p.Blob())
		return err
	}
	trusting := func(tweak func(*client.Trust)) *client.Client {
		c := client.New(px.URL)
		c.Trust = f.Client.Trust
		if tweak != nil {
			tweak(&c.Trust)
		}
		return c
	}
	strict := f.Enclave.Policy()
	strict.MinSecurityVersion = tee.SimSecurityVersion + 1

	for _, tc := range []struct {
		name  string
		lie   func(string, []byte) []byte
		trust func(*client.Trust)
		code  string
		says  string
	}{
		{"coordinator names the attacker's enclave key", editIDAOView(func(v *coordinator.IDAOView) {
			v.EnclaveKey = &coordinator.EnclaveKey{PublicKey: attacker.PublicKeyBytes(), Report: tee.EncodeAttestation(attacker.KeyAttestation())}
			v.PolicyExtra, _ = json.Marshal(map[string]json.RawMessage{"tee_policy": attackerPolicy})
		}), nil, "enclave_not_registered", "not registered on chain"},
		{"chain API forges the iDAO's TEE policy", editProof(func(p *proof.IDAO) {
			d := new(idao.IDAO)
			if state.Decode(p.IDAO.Value, d) == nil {
				d.Policy.TEEPolicy = attackerPolicy
				p.IDAO.Value = state.Encode(d)
			}
		}), nil, "unproven_chain_state", "does not verify"},
		{"chain API forges the enclave registration", func(path string, body []byte) []byte {
			body = editIDAOView(func(v *coordinator.IDAOView) {
				v.EnclaveKey = &coordinator.EnclaveKey{PublicKey: attacker.PublicKeyBytes()}
			})(path, body)
			return editProof(func(p *proof.IDAO) {
				for _, e := range p.Enclaves {
					e.Value = state.Encode(&state.Enclave{IDAO: "demo", PubKey: attacker.PublicKeyBytes(), Report: tee.EncodeAttestation(attacker.KeyAttestation())})
				}
			})(path, body)
		}, nil, "unproven_chain_state", "does not verify"},
		{"chain API answers with another chain's state", func(path string, body []byte) []byte {
			if !strings.HasPrefix(path, "/v1/chain/") {
				return editIDAOView(func(v *coordinator.IDAOView) {
					v.EnclaveKey = &coordinator.EnclaveKey{PublicKey: attacker.PublicKeyBytes()}
				})(path, body)
			}
			resp, err := http.Get(fake + path)
			if err != nil {
				return body
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return b
		}, nil, "wrong_sequencer", "not by the trusted sequencer"},
		{"chain API replays an older head", nil, func(tr *client.Trust) { tr.MinHeight = f.Chain.Head().Height + 1 }, "stale_chain_state", "older than block"},
		{"no trusted sequencer", nil, func(tr *client.Trust) { tr.Sequencer = common.Address{} }, "no_trusted_sequencer", "--sequencer"},
		{"simulation policy not allowed", nil, func(tr *client.Trust) { tr.AllowSimulation = false }, "simulation_policy", "--allow-simulation"},
		{"registered enclave under a stricter policy of the contributor's", nil, func(tr *client.Trust) { tr.TEEPolicy = &strict }, "enclave_attestation", "failed attestation"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			px.Lie(tc.lie)
			defer px.Lie(nil)
			err := submit(trusting(tc.trust))
			var te *client.TrustError
			if !errors.As(err, &te) || te.ErrorCode() != tc.code || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("err = %v; want a refusal %q saying %q", err, tc.code, tc.says)
			}
			if w := px.Writes(); len(w) != 0 {
				t.Fatalf("the client sent %v before refusing", w)
			}
			if n, _ := f.Bus.BlobCount(ctx); n != 0 {
				t.Fatalf("%d blobs stored", n)
			}
			if n, _ := f.Store.CountSubmissions(ctx); n != 0 {
				t.Fatalf("%d submissions stored", n)
			}
		})
	}
	// the same client through an honest proxy submits
	if err := submit(trusting(nil)); err != nil {
		t.Fatalf("honest API: %v", err)
	}
	if n, _ := f.Store.CountSubmissions(ctx); n != 1 {
		t.Fatalf("%d submissions stored, want 1", n)
	}
}
