// Package servertest runs a real coordinator for tests: a fresh PostgreSQL
// database, an embedded JetStream server, the HTTP API on a loopback port,
// and a demo iDAO with an enclave key; with NewWithChain also a chain node
// holding the same iDAO with the enclave key registered, its API under
// /v1/chain/ of the same address (as the devnet serves it).
package servertest

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/nats-io/nats-server/v2/server"

	"github.com/vsc-labs/vsc/chain"
	"github.com/vsc-labs/vsc/chain/node"
	"github.com/vsc-labs/vsc/chain/tx"
	"github.com/vsc-labs/vsc/coordinator"
	"github.com/vsc-labs/vsc/coordinator/client"
	srvpkg "github.com/vsc-labs/vsc/coordinator/server"
	"github.com/vsc-labs/vsc/coordinator/store"
	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/internal/bus"
	"github.com/vsc-labs/vsc/internal/testenv"
	"github.com/vsc-labs/vsc/tee"
)

// ChainID is the test chain id.
const ChainID = 1337

// Fixture is a running coordinator.
type Fixture struct {
	TB      testing.TB // the test the fixture belongs to
	DBURL   string
	NATS    *server.Server
	Store   *store.Store
	Bus     *bus.Bus
	Server  *srvpkg.Server
	HTTP    *httptest.Server
	Client  *client.Client
	Enclave *tee.Enclave // the demo iDAO's (simulated) enclave
	// Chain is the chain node (NewWithChain only), served under /v1/chain/.
	Chain *node.Node
	// OwnerKey owns the demo iDAO on Chain and holds funds there.
	OwnerKey *ecdsa.PrivateKey
}

// New starts a coordinator with cfg and creates iDAO "demo" accepting modes.
func New(t testing.TB, cfg srvpkg.Config, modes ...idao.Mode) *Fixture {
	t.Helper()
	if len(modes) == 0 {
		modes = []idao.Mode{idao.ModeTEEZK, idao.ModeTEE, idao.ModeZK}
	}
	f := &Fixture{TB: t, DBURL: testenv.Database(t), NATS: testenv.NATS(t)}
	enc, err := tee.OpenSim(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	f.Enclave = enc
	f.Start(cfg)
	owner, _ := crypto.GenerateKey()
	ctx := context.Background()
	teePolicy, _ := json.Marshal(enc.Policy())
	dao := &coordinator.Registered{IDAO: &idao.IDAO{Name: "demo", Owner: crypto.PubkeyToAddress(owner.PublicKey),
		Policy: idao.Policy{Modes: modes, TEEPolicy: teePolicy}},
		Enclave: &coordinator.EnclaveKey{PublicKey: enc.PublicKeyBytes(), Report: tee.EncodeAttestation(enc.KeyAttestation())}}
	if err := f.Store.CreateIDAO(ctx, dao); err != nil {
		t.Fatal(err)
	}
	if err := f.Store.Join(ctx, "demo", crypto.PubkeyToAddress(owner.PublicKey), big.NewInt(100)); err != nil {
		t.Fatal(err)
	}
	return f
}

// NewWithChain is New with a chain node: the demo iDAO (same modes, the
// enclave's simulation policy) is created on chain and the enclave key
// registered, and f.Client trusts the chain's sequencer and accepts the
// simulation policy.
func NewWithChain(t testing.TB, cfg srvpkg.Config, modes ...idao.Mode) *Fixture {
	t.Helper()
	f := New(t, cfg, modes...)
	if len(modes) == 0 {
		modes = []idao.Mode{idao.ModeTEEZK, idao.ModeTEE, idao.ModeZK}
	}
	seq, _ := crypto.GenerateKey()
	owner, _ := crypto.GenerateKey()
	g := &chain.Genesis{ChainID: ChainID, Time: uint64(time.Now().UnixMilli()), Sequencer: crypto.PubkeyToAddress(seq.PublicKey), GasPrice: "1",
		Alloc: map[common.Address]string{crypto.PubkeyToAddress(owner.PublicKey): "1000000000000000000000"}}
	n, err := node.New(node.Config{DataDir: t.TempDir(), Genesis: g, SequencerKey: seq, BlockTime: 5 * time.Millisecond, Enclave: tee.KeyRegistry{}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); n.Close() })
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	f.Chain, f.OwnerKey = n, owner
	teePolicy, _ := json.Marshal(f.Enclave.Policy())
	for _, body := range []tx.Body{
		&tx.IDAOCreate{Name: "demo", Policy: idao.Policy{Modes: modes, TEEPolicy: teePolicy}, Stake: big.NewInt(1000)},
		&tx.EnclaveRegister{IDAO: "demo", PubKey: f.Enclave.PublicKeyBytes(), Report: tee.EncodeAttestation(f.Enclave.KeyAttestation())},
	} {
		if err := Send(ctx, n, owner, body); err != nil {
			t.Fatalf("chain fixture: %s: %v", body.Kind(), err)
		}
	}
	f.restartHTTP()
	return f
}

// Send signs body with key, submits it to n and waits for a successful receipt.
func Send(ctx context.Context, n *node.Node, key *ecdsa.PrivateKey, body tx.Body) error {
	t, err := tx.New(n.ChainID(), n.NextNonce(crypto.PubkeyToAddress(key.PublicKey)), new(big.Int).Mul(n.Fee(body), big.NewInt(2)), body)
	if err != nil {
		return err
	}
	if t, err = t.Sign(key); err != nil {
		return err
	}
	h, err := n.SubmitTx(t)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	info, err := n.WaitReceipt(wctx, h)
	if err != nil {
		return err
	}
	if info.Receipt.Status != chain.StatusSuccess {
		return fmt.Errorf("receipt: %w", info.Receipt.Err())
	}
	return nil
}

// restartHTTP serves the coordinator (and the chain, if any) on a new loopback port.
func (f *Fixture) restartHTTP() {
	if f.HTTP != nil {
		f.HTTP.Close()
	}
	var h http.Handler = f.Server.Handler()
	if f.Chain != nil {
		mux := http.NewServeMux()
		mux.Handle("/v1/chain/", f.Chain.Handler())
		mux.Handle("/", f.Server.Handler())
		h = mux
	}
	f.HTTP = httptest.NewServer(h)
	f.Client = client.New(f.HTTP.URL)
	if f.Chain != nil {
		f.Client.Trust = client.Trust{Sequencer: f.Chain.Sequencer(), AllowSimulation: true}
	}
}

// Start (re)starts the coordinator over the same database and NATS.
func (f *Fixture) Start(cfg srvpkg.Config) {
	t := f.TB
	ctx := context.Background()
	st, err := store.Open(ctx, f.DBURL, 8, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := bus.ConnectInProcess(f.NATS, testenv.Creds(t, f.NATS, "coordinator"), bus.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ChainID = ChainID
	f.Store, f.Bus = st, b
	f.Server = srvpkg.New(cfg, st, b, nil)
	if err := f.Server.Start(ctx); err != nil {
		t.Fatal(err)
	}
	f.HTTP = nil
	f.restartHTTP()
	t.Cleanup(f.Stop)
}

// WorkerBus connects to the fixture's NATS as a worker (tee, zk and
// optimistic) whose results the demo iDAO's enclave signs, as a real
// worker's are.
func (f *Fixture) WorkerBus(cfg bus.Config) *bus.Bus {
	cfg.Signer = f.Enclave
	return testenv.WorkerBus(f.TB, f.NATS, cfg)
}

// Stop stops the coordinator (crash-like: whatever was not committed is gone).
func (f *Fixture) Stop() {
	if f.HTTP == nil {
		return
	}
	_ = f.Server.Stop(context.Background()) // first: it ends the event streams, which HTTP.Close would wait for
	f.HTTP.Close()
	f.Bus.Close()
	f.Store.Close()
	f.HTTP = nil
}
