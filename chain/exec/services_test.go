package exec_test

import (
	"crypto/ecdsa"
	"encoding/json"
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/chain"
	"github.com/vsc-labs/vsc/chain/exec"
	"github.com/vsc-labs/vsc/chain/state"
	"github.com/vsc-labs/vsc/chain/tx"
	"github.com/vsc-labs/vsc/dat"
	"github.com/vsc-labs/vsc/dat/escrow"
	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/internal/codes"
	"github.com/vsc-labs/vsc/internal/eip712"
	"github.com/vsc-labs/vsc/internal/jobreq"
)

// Keys of the service tests: 0..3 members of "demo" (4 the contributor),
// 5 the provider's account, 6 and 7 apps, 8 an account that is no provider.
const (
	svcProvider = 5
	svcApp      = 6
	svcApp2     = 7
	svcOutsider = 8
)

// acceptEnclaves is an enclave verifier that accepts every key (the
// attestation itself is tee's, tested there).
type acceptEnclaves struct{}

func (acceptEnclaves) VerifyEnclaveKey(string, json.RawMessage, []byte, []byte) error { return nil }

// svcWorld is a chain with a DAT class, an enclave registered for "demo"
// and provider svcProvider (fee 3, stake 100) serving it with that enclave.
type svcWorld struct {
	*world
	class   common.Hash
	enclave *ecdsa.PrivateKey
	signer  map[common.Hash]*ecdsa.PrivateKey // job → the enclave that signs its result
	sealed  map[common.Hash]common.Hash       // job → the result hash it was made with
}

func newSvcWorld(t *testing.T) *svcWorld {
	w := newWorld(t, 9)
	w.cfg.Enclave = acceptEnclaves{}
	w.cfg.Services = &escrow.Params{RefundLock: 10}
	class, _ := w.setupDAT(4, 4, 0)
	sw := &svcWorld{world: w, class: class, enclave: testKeys(10)[9], signer: map[common.Hash]*ecdsa.PrivateKey{}, sealed: map[common.Hash]common.Hash{}}
	pub := crypto.FromECDSAPub(&sw.enclave.PublicKey)
	mustOK(t, w.block([]*tx.Tx{w.sign(0, &tx.EnclaveRegister{IDAO: "demo", PubKey: pub, Report: []byte("r")})}))
	mustOK(t, w.block([]*tx.Tx{w.sign(svcProvider, sw.registerBody(sw.enclave, svcProvider))}))
	return sw
}

func (w *svcWorld) registerBody(enclave *ecdsa.PrivateKey, who int) *tx.ProviderRegister {
	bind, err := eip712.Sign(enclave, jobreq.ProviderBinding(chainID, w.addrs[who]))
	if err != nil {
		w.t.Fatal(err)
	}
	return &tx.ProviderRegister{IDAO: "demo", PubKey: crypto.FromECDSAPub(&enclave.PublicKey), Binding: bind,
		Fee: big.NewInt(3), Stake: big.NewInt(100)}
}

// buy gives app a token of units and deposits amount with the provider.
func (w *svcWorld) buy(app int, units uint64, deposit int64) common.Hash {
	buy := w.sign(app, &tx.DATBuy{Class: w.class, Units: units})
	dep := w.sign(app, &tx.EscrowDeposit{Provider: w.addrs[svcProvider], Amount: big.NewInt(deposit)})
	mustOK(w.t, w.block([]*tx.Tx{buy, dep}))
	return exec.NewTokenID(buy.Hash(), 0)
}

// job is a signed request of app for units of token, and its settlement
// item with the result hash signed by enclave.
func (w *svcWorld) job(app int, token common.Hash, units, nonce uint64, enclave *ecdsa.PrivateKey) tx.SettleItem {
	req := jobreq.Request{Class: w.class, Token: token, Provider: w.addrs[svcProvider], QueryHash: crypto.Keccak256Hash([]byte("q")),
		Units: units, MaxFee: big.NewInt(5), Nonce: nonce, Deadline: w.time/1000 + 100}
	return w.item(app, req, crypto.Keccak256Hash(token[:], []byte{byte(nonce)}), enclave)
}

// item is a signed settlement item; its enclave signature is made by
// settleBody (signedBy says whose key signs).
func (w *svcWorld) item(app int, req jobreq.Request, result common.Hash, enclave *ecdsa.PrivateKey) tx.SettleItem {
	sig, err := req.Sign(chainID, w.keys[app])
	if err != nil {
		w.t.Fatal(err)
	}
	w.signer[req.Digest(chainID)], w.sealed[req.Digest(chainID)] = enclave, result
	return tx.SettleItem{ID: req.Digest(chainID), App: w.addrs[app], Request: req, AppSig: sig, ResultHash: result}
}

// settleBody batches items into one settlement, signed by the enclave the
// first item was made for over the items' own (request, result) hashes as
// signed (sealed: the result each item was made with).
func (w *svcWorld) settleBody(items ...tx.SettleItem) *tx.ServiceSettle {
	var ids, res []common.Hash
	for _, it := range items {
		ids, res = append(ids, it.Request.Digest(chainID)), append(res, w.sealed[it.Request.Digest(chainID)])
	}
	proofs, err := jobreq.SignBatch(w.signer[ids[0]], ids, res)
	if err != nil {
		w.t.Fatal(err)
	}
	b := &tx.ServiceSettle{IDAO: "demo", Root: proofs[0].Root, Size: proofs[0].Size, EnclaveSig: proofs[0].Signature}
	for i, it := range items {
		it.Index, it.Path = proofs[i].Index, proofs[i].Path
		b.Items = append(b.Items, it)
	}
	return b
}

func (w *svcWorld) settle(from int, items ...tx.SettleItem) *chain.Receipt {
	return w.block([]*tx.Tx{w.sign(from, w.settleBody(items...))}, 1, 2)[0]
}

func (w *svcWorld) tokenValue(id common.Hash) uint64 {
	var t dat.Token
	mustDecode(w.t, w.st.Get(state.TokenKey(id)), &t)
	return t.Value
}

func (w *svcWorld) escrowOf(app int) *escrow.Account {
	a := new(escrow.Account)
	mustDecode(w.t, w.st.Get(state.EscrowKey(w.addrs[app], w.addrs[svcProvider])), a)
	return a
}

func (w *svcWorld) pool() *big.Int {
	var c dat.Class
	mustDecode(w.t, w.st.Get(state.ClassKey(w.class)), &c)
	return c.Pool
}

// skipped is the code of the receipt's job_skipped event (0 if none).
func skipped(rc *chain.Receipt) codes.Code {
	for _, e := range rc.Events {
		if e.Type == "job_skipped" {
			for _, a := range e.Attrs {
				if a.Key == "code" {
					var n uint16
					for _, c := range a.Value {
						n = n*10 + uint16(c-'0')
					}
					return codes.Code(n)
				}
			}
		}
	}
	return 0
}

// The journey on chain: a settled job consumes its units from the token,
// pays the provider's fee out of the sub-account and leaves the DAT's
// revenue pool alone; the same job never settles twice.
func TestSettlementConsumesUnitsAndPaysTheFee(t *testing.T) {
	t.Parallel()
	w := newSvcWorld(t)
	tok := w.buy(svcApp, 10, 20)
	pool, provBal := w.pool(), w.account(w.addrs[svcProvider]).Balance
	it := w.job(svcApp, tok, 4, 1, w.enclave)
	rc := w.settle(svcProvider, it)
	if rc.Status != chain.StatusSuccess || skipped(rc) != 0 {
		t.Fatalf("settle: %s, skipped %d", rc.Message(), skipped(rc))
	}
	if got := w.tokenValue(tok); got != 6 {
		t.Fatalf("units left %d, want 6", got)
	}
	if a := w.escrowOf(svcApp); a.Balance.Int64() != 17 || a.Nonce != 1 {
		t.Fatalf("escrow balance %s nonce %d, want 17 and 1", a.Balance, a.Nonce)
	}
	// the provider paid the settle tx's fee and got the job's
	got := new(big.Int).Sub(w.account(w.addrs[svcProvider]).Balance, provBal)
	if want := new(big.Int).Sub(big.NewInt(3), rc.Fee); got.Cmp(want) != 0 {
		t.Fatalf("provider balance moved %s, want %s (fee 3 − tx fee %s)", got, want, rc.Fee)
	}
	if w.pool().Cmp(pool) != 0 {
		t.Fatalf("class pool moved: %s → %s", pool, w.pool())
	}
	if st := w.st.Get(state.JobKey(it.ID)); st == nil {
		t.Fatal("job not recorded settled")
	}
	if rc := w.settle(svcProvider, it); skipped(rc) != codes.JobSettled || w.tokenValue(tok) != 6 {
		t.Fatalf("second settle: skipped %d, units %d", skipped(rc), w.tokenValue(tok))
	}
}

// Each bad item is skipped with its reason and changes nothing; the good
// item of the same batch lands.
func TestSettlementRefusesEachBadItemAlone(t *testing.T) {
	t.Parallel()
	w := newSvcWorld(t)
	tok := w.buy(svcApp, 10, 20)
	other := testKeys(11)[10]
	rows := []struct {
		name string
		item func() tx.SettleItem
		code codes.Code
	}{
		{"result hash the enclave never signed", func() tx.SettleItem {
			it := w.job(svcApp, tok, 1, 5, w.enclave)
			it.ResultHash = common.HexToHash("0xbad")
			return it
		}, codes.ResultNotSigned},
		{"signed by an unregistered enclave key", func() tx.SettleItem { return w.job(svcApp, tok, 1, 5, other) }, codes.WrongEnclave},
		{"past deadline", func() tx.SettleItem {
			it := w.job(svcApp, tok, 1, 5, w.enclave)
			it.Request.Deadline = w.time/1000 - 1
			return w.item(svcApp, it.Request, it.ResultHash, w.enclave)
		}, codes.JobDeadline},
		{"max fee below the provider's", func() tx.SettleItem {
			it := w.job(svcApp, tok, 1, 5, w.enclave)
			it.Request.MaxFee = big.NewInt(2)
			return w.item(svcApp, it.Request, it.ResultHash, w.enclave)
		}, codes.FeeBelowProvider},
		{"too many units", func() tx.SettleItem { return w.job(svcApp, tok, 11, 5, w.enclave) }, codes.InsufficientUnits},
		{"a max fee that is no uint256", func() tx.SettleItem {
			it := w.job(svcApp, tok, 1, 5, w.enclave)
			it.Request.MaxFee = new(big.Int).Lsh(big.NewInt(1), 300)
			return w.item(svcApp, it.Request, it.ResultHash, w.enclave)
		}, codes.BadMaxFee},
		{"signed by another app than named", func() tx.SettleItem {
			it := w.job(svcApp2, tok, 1, 5, w.enclave)
			it.App = w.addrs[svcApp]
			return it
		}, codes.JobWrongApp},
		{"token of another owner", func() tx.SettleItem { return w.job(svcApp2, tok, 1, 5, w.enclave) }, codes.NoEscrowAccount},
		{"id not the request's digest", func() tx.SettleItem {
			it := w.job(svcApp, tok, 1, 5, w.enclave)
			it.ID = common.HexToHash("0x1d")
			return it
		}, codes.JobID},
	}
	for _, row := range rows {
		before, esc := w.tokenValue(tok), w.escrowOf(svcApp)
		rc := w.settle(svcProvider, row.item())
		if rc.Status != chain.StatusSuccess || skipped(rc) != row.code {
			t.Fatalf("%s: status %d skipped %s, want %s", row.name, rc.Status, skipped(rc), row.code)
		}
		if w.tokenValue(tok) != before || w.escrowOf(svcApp).Balance.Cmp(esc.Balance) != 0 || w.escrowOf(svcApp).Nonce != esc.Nonce {
			t.Fatalf("%s: a skipped item changed the token or the escrow", row.name)
		}
	}
	good, replay := w.job(svcApp, tok, 2, 7, w.enclave), w.job(svcApp, tok, 1, 7, w.enclave)
	rc := w.settle(svcProvider, good, replay)
	if w.tokenValue(tok) != 8 || skipped(rc) != codes.JobNonce {
		t.Fatalf("good item then another request with its nonce: units %d, skipped %s", w.tokenValue(tok), skipped(rc))
	}
	// a lower nonce not yet settled still settles (a batch settled before
	// an earlier one loses no job), and the highest nonce stays
	if rc := w.settle(svcProvider, w.job(svcApp, tok, 1, 6, w.enclave)); skipped(rc) != 0 || w.tokenValue(tok) != 7 || w.escrowOf(svcApp).Nonce != 7 {
		t.Fatalf("an earlier nonce: skipped %s, units %d, nonce %d", skipped(rc), w.tokenValue(tok), w.escrowOf(svcApp).Nonce)
	}
	if rc := w.settle(svcOutsider, w.job(svcApp, tok, 1, 9, w.enclave)); rc.Code != codes.UnknownProvider {
		t.Fatalf("settlement by a non-provider: %s", rc.Code)
	}
}

// A provider whose iDAO changed its TEE policy is no longer attested: its
// settlements are refused whole.
func TestSettlementNeedsTheCurrentAttestation(t *testing.T) {
	t.Parallel()
	w := newSvcWorld(t)
	tok := w.buy(svcApp, 10, 20)
	pol := idao.Policy{Modes: []idao.Mode{"tee+zk"}, Price: big.NewInt(7), UnstakeDelay: 60, TEEPolicy: []byte(`{"other":1}`)}
	mustOK(t, w.block([]*tx.Tx{w.sign(0, &tx.IDAOSetPolicy{Name: "demo", Policy: pol})}))
	rc := w.settle(svcProvider, w.job(svcApp, tok, 1, 1, w.enclave))
	if rc.Code != codes.ProviderNotAttested || w.tokenValue(tok) != 10 {
		t.Fatalf("code %s, units %d", rc.Code, w.tokenValue(tok))
	}
}

func TestProviderRegistration(t *testing.T) {
	t.Parallel()
	w := newSvcWorld(t)
	unreg := testKeys(11)[10]
	rows := []struct {
		name string
		body *tx.ProviderRegister
		code codes.Code
	}{
		{"enclave not registered for the iDAO", w.registerBody(unreg, svcOutsider), codes.ProviderNotAttested},
		{"binding for another account", w.registerBody(w.enclave, svcApp), codes.BadProviderKey},
		{"already a provider", w.registerBody(w.enclave, svcProvider), codes.ProviderExists},
	}
	for _, row := range rows {
		who := svcOutsider
		if row.code == codes.ProviderExists {
			who = svcProvider
		}
		if rc := w.block([]*tx.Tx{w.sign(who, row.body)})[0]; rc.Code != row.code {
			t.Fatalf("%s: %s, want %s", row.name, rc.Code, row.code)
		}
	}
	var p escrow.Provider
	mustDecode(t, w.st.Get(state.ProviderKey(w.addrs[svcProvider])), &p)
	if p.Stake.Int64() != 100 || p.Fee.Int64() != 3 || p.Enclave != crypto.PubkeyToAddress(w.enclave.PublicKey) {
		t.Fatalf("provider %+v", p)
	}
}

// A refund waits out the lock; during it the provider may still settle,
// taking the fee from the pending refund; after it the app withdraws.
func TestRefundLock(t *testing.T) {
	t.Parallel()
	w := newSvcWorld(t)
	tok := w.buy(svcApp, 10, 5)
	prov := w.addrs[svcProvider]
	mustOK(t, w.block([]*tx.Tx{w.sign(svcApp, &tx.EscrowRefund{Provider: prov})}))
	if rc := w.block([]*tx.Tx{w.sign(svcApp, &tx.EscrowWithdraw{Provider: prov})})[0]; rc.Code != codes.EscrowLocked {
		t.Fatalf("withdraw in the lock: %s", rc.Code)
	}
	if rc := w.settle(svcProvider, w.job(svcApp, tok, 1, 1, w.enclave)); rc.Status != chain.StatusSuccess || skipped(rc) != 0 {
		t.Fatalf("settle from the pending refund: %s skipped %s", rc.Message(), skipped(rc))
	}
	if a := w.escrowOf(svcApp); a.Pending.Int64() != 2 || a.Balance.Sign() != 0 {
		t.Fatalf("pending %s balance %s, want 2 and 0", a.Pending, a.Balance)
	}
	w.time += 10_000
	bal := w.account(w.addrs[svcApp]).Balance
	rc := w.block([]*tx.Tx{w.sign(svcApp, &tx.EscrowWithdraw{Provider: prov})})[0]
	mustOK(t, []*chain.Receipt{rc})
	if got := new(big.Int).Sub(w.account(w.addrs[svcApp]).Balance, bal); got.Cmp(new(big.Int).Sub(big.NewInt(2), rc.Fee)) != 0 {
		t.Fatalf("withdrawn %s (tx fee %s), want 2", got, rc.Fee)
	}
}

// The property test of escrow: random deposits, jobs, settlements (some
// replayed or over the units), refunds and withdrawals, executed with 1, 2
// and 4 lanes, conserve the native token after every block (checked by
// world.block) and spend exactly the units of the settled jobs.
func TestEscrowConservation(t *testing.T) {
	t.Parallel()
	w := newSvcWorld(t)
	rng := rand.New(rand.NewPCG(13, 7))
	apps := []int{svcApp, svcApp2}
	toks := map[int]common.Hash{}
	bought := map[int]uint64{}
	nonce := map[int]uint64{}
	for _, a := range apps {
		toks[a] = w.buy(a, 50, 40)
		bought[a] = 50
	}
	settledUnits := map[int]uint64{}
	prov := w.addrs[svcProvider]
	for range 25 {
		var txs []*tx.Tx
		var items []tx.SettleItem
		for _, a := range apps {
			switch rng.IntN(5) {
			case 0:
				txs = append(txs, w.sign(a, &tx.EscrowDeposit{Provider: prov, Amount: big.NewInt(int64(1 + rng.IntN(10)))}))
			case 1:
				txs = append(txs, w.sign(a, &tx.EscrowRefund{Provider: prov, Amount: big.NewInt(int64(rng.IntN(4)))}))
			case 2:
				txs = append(txs, w.sign(a, &tx.EscrowWithdraw{Provider: prov}))
			default:
				nonce[a]++
				n := nonce[a]
				if rng.IntN(4) == 0 && n > 1 {
					n-- // a replayed nonce
				}
				items = append(items, w.job(a, toks[a], uint64(1+rng.IntN(6)), n, w.enclave))
			}
		}
		if len(items) > 0 {
			txs = append(txs, w.sign(svcProvider, w.settleBody(items...)))
		}
		w.time += uint64(rng.IntN(4000))
		for _, rc := range w.block(txs, 1, 2, 4) {
			for _, e := range rc.Events {
				if e.Type != "job_settled" {
					continue
				}
				for _, a := range apps {
					if attr(e, "app") == hexLower(w.addrs[a]) {
						settledUnits[a] += parseU(attr(e, "units"))
					}
				}
			}
		}
	}
	for _, a := range apps {
		if left := w.tokenValue(toks[a]); left+settledUnits[a] != bought[a] {
			t.Fatalf("app %d: %d units left + %d settled != %d bought", a, left, settledUnits[a], bought[a])
		}
	}
	if settledUnits[svcApp]+settledUnits[svcApp2] == 0 {
		t.Fatal("no job settled: the test exercised nothing")
	}
}

func attr(e chain.Event, k string) string {
	for _, a := range e.Attrs {
		if a.Key == k {
			return a.Value
		}
	}
	return ""
}

func hexLower(a common.Address) string { return "0x" + common.Bytes2Hex(a[:]) }

func parseU(s string) uint64 {
	var n uint64
	for _, c := range s {
		n = n*10 + uint64(c-'0')
	}
	return n
}
