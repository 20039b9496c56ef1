package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/internal/keys"
	"github.com/vsc-labs/vsc/internal/testenv"
	"github.com/vsc-labs/vsc/quorum/member"
	"github.com/vsc-labs/vsc/tee"
)

// The trust rows: lying APIs and untrusted enclaves. A contributor's client
// and a member that runs apart (`vscd quorum`) read the iDAO's policy, its
// stake and its enclave keys from chain state proven under the sequencer's
// signature; a coordinator or chain API that lies, answers with another
// chain or replays an old head is refused before anything is uploaded or
// signed. An enclave under a root the iDAO does not trust (the outsider's
// own, or the formerly public devnet root) cannot get registered.

// outsiderEnclave is a simulated enclave under a root of the attacker's own.
func (a *arena) outsiderEnclave(t *testing.T) *tee.Enclave {
	t.Helper()
	enc, err := tee.OpenSim(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return enc
}

// lyingPrepare prepares an honest dataset as the attacker through a proxy
// in front of the devnet's API that rewrites answers with lie; on success it
// would go on to submit. The refusal must come before any write.
func (a *arena) lyingPrepare(t *testing.T, lie func(string, []byte) []byte, trust func(*client.Trust)) error {
	t.Helper()
	px := testenv.LyingProxy(t, "http://"+a.coord.Addr())
	px.Lie(lie)
	c := client.New(px.URL)
	c.Trust = a.api.Trust
	if trust != nil {
		trust(&c.Trust)
	}
	ctx := context.Background()
	p, err := c.Prepare(ctx, []byte(dataset6), client.PrepareOptions{IDAO: "demo", Mode: "tee", Contributor: keys.Address(a.attacker)})
	if err == nil {
		sig, _ := p.Sign(a.attacker)
		_, _, err = c.Submit(ctx, p.Request(sig), p.Blob())
		if err == nil {
			err = errors.New("the lie was believed: the submission went through")
		}
	}
	if w := px.Writes(); len(w) != 0 {
		t.Errorf("the client sent %v before refusing", w)
	}
	return err
}

// onPath applies f to the JSON answer of paths starting with prefix.
func onPath[T any](prefix string, f func(*T)) func(string, []byte) []byte {
	return func(path string, body []byte) []byte {
		if !strings.HasPrefix(path, prefix) {
			return body
		}
		v := new(T)
		if json.Unmarshal(body, v) != nil {
			return body
		}
		f(v)
		b, _ := json.Marshal(v)
		return b
	}
}

// chain lies: each rewrites answers in turn.
func lies(fs ...func(string, []byte) []byte) func(string, []byte) []byte {
	return func(path string, body []byte) []byte {
		for _, f := range fs {
			body = f(path, body)
		}
		return body
	}
}

// namesKey is the coordinator's iDAO view naming enc as the enclave key.
func namesKey(enc *tee.Enclave) func(string, []byte) []byte {
	return onPath("/v1/idaos/demo", func(v *coordinator.IDAOView) {
		v.EnclaveKey = &coordinator.EnclaveKey{PublicKey: enc.PublicKeyBytes(), Report: tee.EncodeAttestation(enc.KeyAttestation())}
	})
}

// impostorChain is a chain of the attacker's own: its own sequencer, an
// iDAO demo whose TEE policy trusts the attacker's enclave, registered there.
func impostorChain(t *testing.T, enc *tee.Enclave, chainID uint64) string {
	t.Helper()
	seq, _ := crypto.GenerateKey()
	owner, _ := crypto.GenerateKey()
	g := &chain.Genesis{ChainID: chainID, Time: uint64(time.Now().UnixMilli()), Sequencer: keys.Address(seq), GasPrice: "1",
		Alloc: map[common.Address]string{keys.Address(owner): devFunds.String()}}
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
		&tx.IDAOCreate{Name: "demo", Policy: idao.Policy{Modes: []idao.Mode{"tee+zk", "tee", "zk", "optimistic"}, TEEPolicy: policy}, Stake: devStake},
		&tx.EnclaveRegister{IDAO: "demo", PubKey: enc.PublicKeyBytes(), Report: tee.EncodeAttestation(enc.KeyAttestation())},
	} {
		if err := sendAndWait(ctx, n, owner, b); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(n.Handler())
	t.Cleanup(srv.Close)
	return srv.URL
}

// from serves paths under prefix from another API.
func from(prefix, base string) func(string, []byte) []byte {
	return func(path string, body []byte) []byte {
		if !strings.HasPrefix(path, prefix) {
			return body
		}
		resp, err := http.Get(base + path)
		if err != nil {
			return body
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return b
	}
}

// chainRefusal is a tx's failed receipt as a coded refusal.
func chainRefusal(code string, err error) error {
	if err != nil && strings.Contains(err.Error(), "failed on chain") {
		return withCode(code, err)
	}
	if err == nil {
		return nil
	}
	return fmt.Errorf("not refused on chain but before: %w", err)
}

// formerDevRoot is the simulation root every devnet shared before roots
// were made per devnet: derived from a public string, so anyone has it.
func formerDevRoot() *tee.SimRoot {
	k, _ := crypto.ToECDSA(crypto.Keccak256([]byte("vsc devnet simulation root: NOT SECRET, never trust in production")))
	return tee.NewSimRoot(k)
}

// memberRead is what `vscd quorum` reads of iDAO demo through a lying proxy.
func (a *arena) memberRead(t *testing.T, lie func(string, []byte) []byte) error {
	t.Helper()
	px := testenv.LyingProxy(t, "http://"+a.coord.Addr())
	pc := member.NewProvenChain(px.URL, a.chain.Sequencer())
	if _, err := pc.IDAO("demo"); err != nil { // the truth first: it pins the height
		t.Fatal(err)
	}
	px.Lie(lie)
	_, err := pc.IDAO("demo")
	if err == nil {
		_, err = pc.EnclaveRegistered("demo", a.enclave.PublicKeyBytes())
	}
	return err
}

func init() {
	registerAttacks("trust", []attack{
		{name: "coordinator names the outsider's enclave key", code: "enclave_not_registered", says: "not registered on chain",
			run: func(t *testing.T, a *arena) error {
				return a.lyingPrepare(t, namesKey(a.outsiderEnclave(t)), nil)
			}},
		{name: "chain API forges the iDAO's TEE policy to trust the outsider's root", code: "unproven_chain_state", says: "does not verify",
			run: func(t *testing.T, a *arena) error {
				evil, _ := json.Marshal(a.outsiderEnclave(t).Policy())
				return a.lyingPrepare(t, onPath("/v1/chain/idaos/demo/enclaves", func(p *proof.IDAO) {
					d := new(idao.IDAO)
					if state.Decode(p.IDAO.Value, d) == nil {
						d.Policy.TEEPolicy = evil
						p.IDAO.Value = state.Encode(d)
					}
				}), nil)
			}},
		{name: "chain API forges the outsider's enclave registration", code: "unproven_chain_state", says: "does not verify",
			run: func(t *testing.T, a *arena) error {
				enc := a.outsiderEnclave(t)
				return a.lyingPrepare(t, lies(namesKey(enc), onPath("/v1/chain/idaos/demo/enclaves", func(p *proof.IDAO) {
					for _, e := range p.Enclaves {
						e.Value = state.Encode(&state.Enclave{IDAO: "demo", PubKey: enc.PublicKeyBytes(), Report: tee.EncodeAttestation(enc.KeyAttestation())})
					}
				})), nil)
			}},
		{name: "chain API answers with the outsider's own chain", code: "wrong_sequencer", says: "not by the trusted sequencer",
			run: func(t *testing.T, a *arena) error {
				enc := a.outsiderEnclave(t)
				return a.lyingPrepare(t, lies(namesKey(enc), from("/v1/chain/", impostorChain(t, enc, a.chain.ChainID()))), nil)
			}},
		{name: "chain API replays an older head", code: "stale_chain_state", says: "older than block",
			run: func(t *testing.T, a *arena) error {
				// the client has seen a later head than the one the API proves under
				return a.lyingPrepare(t, nil, func(tr *client.Trust) { tr.MinHeight = a.chain.Head().Height + 1 })
			}},
		{name: "simulation policy without --allow-simulation", code: "simulation_policy", says: "pass --allow-simulation only for test data",
			run: func(t *testing.T, a *arena) error {
				return a.lyingPrepare(t, nil, func(tr *client.Trust) { tr.AllowSimulation = false })
			}},
		{name: "outsider registers its own simulated enclave for demo", code: "enclave_refused", says: "untrusted root",
			changes: []string{"chain:state_root"}, // the failed tx pays its fee
			run: func(t *testing.T, a *arena) error {
				enc := a.outsiderEnclave(t)
				_, err := a.api.SendChainTx(context.Background(), a.attacker, &tx.EnclaveRegister{IDAO: "demo", PubKey: enc.PublicKeyBytes(),
					Report: tee.EncodeAttestation(enc.KeyAttestation())})
				return chainRefusal("enclave_refused", err)
			}},
		{name: "enclave attested by the formerly public devnet root", code: "enclave_refused", says: "untrusted root",
			changes: []string{"chain:state_root"}, // the failed tx pays its fee
			run: func(t *testing.T, a *arena) error {
				enc, err := tee.Open(tee.NewSim(tee.DefaultSimConfig(formerDevRoot())), t.TempDir())
				if err != nil {
					t.Fatal(err)
				}
				_, err = a.api.SendChainTx(context.Background(), a.attacker, &tx.EnclaveRegister{IDAO: "demo", PubKey: enc.PublicKeyBytes(),
					Report: tee.EncodeAttestation(enc.KeyAttestation())})
				return chainRefusal("enclave_refused", err)
			}},
		{name: "member's chain API forges the iDAO's stake", code: "unproven_chain_state", says: "does not verify",
			run: func(t *testing.T, a *arena) error {
				err := a.memberRead(t, onPath("/v1/chain/idaos/demo/proof", func(p *proof.Proof) {
					d := new(idao.IDAO)
					if p.State != nil && state.Decode(p.State.Value, d) == nil {
						d.Members[0].Stake = new(big.Int).Mul(d.Members[0].Stake, big.NewInt(100))
						p.State.Value = state.Encode(d)
					}
				}))
				return withCode("unproven_chain_state", err)
			}},
		{name: "member's chain API answers with the outsider's own chain", code: "wrong_sequencer", says: "the trusted sequencer is",
			run: func(t *testing.T, a *arena) error {
				err := a.memberRead(t, from("/v1/chain/", impostorChain(t, a.outsiderEnclave(t), a.chain.ChainID())))
				return withCode("wrong_sequencer", err)
			}},
		{name: "member's chain API denies the devnet enclave's registration", code: "unproven_chain_state", says: "does not verify",
			run: func(t *testing.T, a *arena) error {
				err := a.memberRead(t, onPath("/v1/chain/idaos/demo/enclaves/", func(p *proof.IDAO) {
					for _, e := range p.Enclaves {
						e.Value = nil // "not registered"
					}
				}))
				return withCode("unproven_chain_state", err)
			}},
	})
}
