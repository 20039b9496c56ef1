package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/chain/tx"
	srvpkg "github.com/vsc-labs/vsc/coordinator/server"
	"github.com/vsc-labs/vsc/coordinator/server/servertest"
	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/internal/bus"
	"github.com/vsc-labs/vsc/internal/cli"
	"github.com/vsc-labs/vsc/internal/eip712"
	"github.com/vsc-labs/vsc/internal/keys"
	"github.com/vsc-labs/vsc/internal/work"
	"github.com/vsc-labs/vsc/tee"
)

type cliResult struct {
	code           int
	stdout, stderr string
}

func vsc(t *testing.T, api string, args ...string) cliResult {
	t.Helper()
	var out, errb bytes.Buffer
	env := &cli.Env{Stdout: &out, Stderr: &errb, Getenv: func(name string) string {
		if name == "VSC_CONFIG_DIR" {
			return configDir(t)
		}
		return ""
	}}
	code := run(context.Background(), env, append([]string{"--api", api}, args...))
	return cliResult{code, out.String(), errb.String()}
}

// configDirs is each test's config dir (VSC_CONFIG_DIR, where vsc pins
// sequencers), by top-level test name: the tests run in parallel, must not
// share pins, and read no environment of the process.
var configDirs sync.Map

// configDir is the config dir of t's top-level test ("" before cliFixture
// made one).
func configDir(t *testing.T) string {
	dir, _ := configDirs.Load(strings.SplitN(t.Name(), "/", 2)[0])
	s, _ := dir.(string)
	return s
}

func writeFile(t *testing.T, dir, name, content string) string {
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// cliFixture is a coordinator with a chain behind it (what `vsc submit`
// reads the iDAO's policy and enclave key from, proven), and a config dir
// of the test's own for the pinned sequencer.
func cliFixture(t *testing.T, modes ...idao.Mode) *servertest.Fixture {
	t.Helper()
	configDirs.Store(t.Name(), t.TempDir())
	t.Cleanup(func() { configDirs.Delete(t.Name()) })
	return servertest.NewWithChain(t, srvpkg.Config{}, modes...)
}

func TestCLIJourney(t *testing.T) {
	t.Parallel()
	f := cliFixture(t)
	api, dir := f.HTTP.URL, t.TempDir()
	keyFile := filepath.Join(dir, "me.key")

	r := vsc(t, api, "key", "new", "--out", keyFile, "--json")
	var kn map[string]string
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &kn) != nil {
		t.Fatalf("key new: %+v", r)
	}
	if st, _ := os.Stat(keyFile); st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v", st.Mode())
	}
	if r := vsc(t, api, "key", "show", keyFile); strings.TrimSpace(r.stdout) != kn["address"] {
		t.Fatalf("key show %q != %q", r.stdout, kn["address"])
	}

	data := writeFile(t, dir, "d.csv", "x,y\n1,2\n3,4\n")
	r = vsc(t, api, "submit", data, "--idao", "demo", "--key", keyFile, "--allow-simulation", "--json")
	var v map[string]any
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &v) != nil {
		t.Fatalf("submit: %+v", r)
	}
	for _, k := range []string{"id", "status", "idao", "mode", "contributor", "data_hash", "commitment", "evidence", "votes", "anchor", "dat_id", "reason"} {
		if _, ok := v[k]; !ok {
			t.Errorf("submit --json lacks %q", k)
		}
	}
	if v["mode"] != "tee+zk" || v["idao"] != "demo" {
		t.Fatalf("submit view %v", v)
	}
	r = vsc(t, api, "status", v["id"].(string), "--json")
	var sv map[string]any
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &sv) != nil || sv["id"] != v["id"] {
		t.Fatalf("status: %+v", r)
	}
	r = vsc(t, api, "idao", "list", "--json")
	var list struct {
		IDAOs []map[string]any `json:"idaos"`
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &list) != nil || len(list.IDAOs) != 1 || list.IDAOs[0]["policy"] != "tee+zk" {
		t.Fatalf("idao list: %+v", r)
	}
	if r := vsc(t, api, "idao", "show", "demo"); r.code != 0 || !strings.Contains(r.stdout, "tee+zk") {
		t.Fatalf("idao show: %+v", r)
	}
}

func TestCLIBadInput(t *testing.T) {
	t.Parallel()
	f := cliFixture(t)
	api, dir := f.HTTP.URL, t.TempDir()
	keyFile := filepath.Join(dir, "me.key")
	if r := vsc(t, api, "key", "new", "--out", keyFile); r.code != 0 {
		t.Fatal(r)
	}
	strict := f.Enclave.Policy()
	strict.AllowSimulation = false
	strictJSON, _ := json.Marshal(strict)
	strictFile := writeFile(t, dir, "strict.json", string(strictJSON))
	cases := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"simulated enclave under a strict policy", []string{"submit", writeFile(t, dir, "g.csv", "x\n1\n"), "--idao", "demo", "--key", keyFile, "--tee-policy", strictFile}, 1, "failed attestation"},
		{"non-numeric record", []string{"submit", writeFile(t, dir, "a.csv", "x\nabc\n"), "--idao", "demo", "--key", keyFile}, 1, "not an integer"},
		{"empty dataset", []string{"submit", writeFile(t, dir, "b.csv", ""), "--idao", "demo", "--key", keyFile}, 1, "empty"},
		{"unknown idao", []string{"submit", writeFile(t, dir, "c.csv", "x\n1\n"), "--idao", "nope", "--key", keyFile}, 1, "no iDAO named"},
		{"mode not accepted", []string{"submit", writeFile(t, dir, "d.csv", "x\n1\n"), "--idao", "demo", "--mode", "optimistic", "--key", keyFile, "--allow-simulation"}, 1, "accepts modes"},
		{"simulation policy without --allow-simulation", []string{"submit", writeFile(t, dir, "h.csv", "x\n1\n"), "--idao", "demo", "--key", keyFile}, 1, "pass --allow-simulation only for test data"},
		{"missing key", []string{"submit", writeFile(t, dir, "e.csv", "x\n1\n"), "--idao", "demo"}, 2, "--key"},
		{"missing file", []string{"submit", filepath.Join(dir, "nope.csv"), "--idao", "demo", "--key", keyFile}, 1, "no such file"},
		{"bad key file", []string{"submit", writeFile(t, dir, "f.csv", "x\n1\n"), "--idao", "demo", "--key", writeFile(t, dir, "bad.key", "zz")}, 1, "not a hex"},
		{"unknown command", []string{"frobnicate"}, 2, "unknown command"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := vsc(t, api, tc.args...)
			var lines []string // the error line; warnings and notes (a sequencer pinned on first use) may precede it
			for _, l := range strings.Split(strings.TrimSpace(r.stderr), "\n") {
				if !strings.HasPrefix(l, "warning:") && !strings.HasPrefix(l, "note:") {
					lines = append(lines, l)
				}
			}
			if r.code != tc.code || !strings.Contains(r.stderr, tc.msg) || r.stdout != "" {
				t.Fatalf("got %+v, want exit %d with %q", r, tc.code, tc.msg)
			}
			if tc.code == 1 && len(lines) != 1 {
				t.Fatalf("want one line on stderr, got %q", r.stderr)
			}
			if n, _ := f.Store.CountSubmissions(context.Background()); n != 0 {
				t.Fatalf("%d submissions stored", n)
			}
			if n, _ := f.Bus.BlobCount(context.Background()); n != 0 {
				t.Fatalf("%d blobs uploaded", n)
			}
		})
	}
}

// A wallet signs the prepared file's typed_data (eth_signTypedData_v4) and
// the signature is sent with --prepared.
func TestCLIPrepareAndExternalSignature(t *testing.T) {
	t.Parallel()
	f := cliFixture(t)
	api, dir := f.HTTP.URL, t.TempDir()
	wallet, _ := crypto.GenerateKey()
	addr := keys.Address(wallet)
	out := filepath.Join(dir, "sub.json")
	r := vsc(t, api, "submit", writeFile(t, dir, "d.csv", "x,y\n1,2\n"), "--idao", "demo", "--from", addr.Hex(), "--prepare", out, "--allow-simulation")
	if r.code != 0 {
		t.Fatalf("prepare: %+v", r)
	}
	raw, _ := os.ReadFile(out)
	var file struct {
		TypedData json.RawMessage `json:"typed_data"`
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	// what a wallet does: hash the typed data as given and sign
	digest, err := hashTypedDataJSON(file.TypedData)
	if err != nil {
		t.Fatal(err)
	}
	sig, _ := eip712.Sign(wallet, digest)
	r = vsc(t, api, "submit", "--prepared", out, "--signature", hexutil.Encode(sig), "--json")
	if r.code != 0 {
		t.Fatalf("submit --prepared: %+v", r)
	}
	var v map[string]any
	_ = json.Unmarshal([]byte(r.stdout), &v)
	if !strings.EqualFold(v["contributor"].(string), addr.Hex()) {
		t.Fatalf("contributor %v", v["contributor"])
	}
	// a signature by someone else is refused
	other, _ := crypto.GenerateKey()
	bad, _ := eip712.Sign(other, digest)
	if r := vsc(t, api, "submit", "--prepared", out, "--signature", hexutil.Encode(bad)); r.code != 1 || !strings.Contains(r.stderr, "not the contributor") {
		t.Fatalf("foreign signature: %+v", r)
	}
}

// submit --wait follows the submission to a final state with progress on stderr.
func TestCLISubmitWait(t *testing.T) {
	t.Parallel()
	f := cliFixture(t, "tee")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go f.WorkerBus(bus.Config{}).Work(ctx, "tee", func(ctx context.Context, j work.Job) (work.Result, error) {
		return work.Result{Rejected: true, Reason: "commitment mismatch (test worker)"}, nil
	})
	api, dir := f.HTTP.URL, t.TempDir()
	keyFile := filepath.Join(dir, "me.key")
	vsc(t, api, "key", "new", "--out", keyFile)
	r := vsc(t, api, "submit", writeFile(t, dir, "d.csv", "x\n1\n"), "--idao", "demo", "--key", keyFile, "--allow-simulation", "--wait", "--json")
	var v map[string]any
	if r.code != 1 || json.Unmarshal([]byte(r.stdout), &v) != nil || v["status"] != "rejected" {
		t.Fatalf("wait: %+v", r)
	}
	// the fake worker answers at once, so intermediate statuses may be skipped
	for _, want := range []string{"submitted", "rejected", "commitment mismatch"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("progress lacks %q: %s", want, r.stderr)
		}
	}
}

// vsc submit trusts the sequencer it is given, or pins the one it meets
// first for the chain id; a chain API whose state another key signed is
// then refused, with what to do if the chain was reset on purpose.
func TestCLISequencerPinning(t *testing.T) {
	t.Parallel()
	f := cliFixture(t, "tee")
	api, dir := f.HTTP.URL, t.TempDir()
	keyFile := filepath.Join(dir, "me.key")
	vsc(t, api, "key", "new", "--out", keyFile)
	submit := func(extra ...string) cliResult {
		return vsc(t, api, append([]string{"submit", writeFile(t, dir, fmt.Sprintf("d%d.csv", len(extra)), "x\n1\n"), "--idao", "demo", "--key", keyFile, "--allow-simulation"}, extra...)...)
	}
	seq := f.Chain.Sequencer()
	pinFile := filepath.Join(configDir(t), "sequencers.json")

	r := submit()
	if r.code != 0 || !strings.Contains(r.stderr, "note: first use of chain 1337") || !strings.Contains(r.stderr, seq.Hex()) {
		t.Fatalf("first use: %+v", r)
	}
	pins, err := loadPins(pinFile)
	if err != nil || pins.get(1337) == nil || pins.get(1337).Sequencer != seq || pins.get(1337).Height == 0 {
		t.Fatalf("pin after first use: %+v %v", pins, err)
	}
	if r := submit("--mode", "tee"); r.code != 0 || strings.Contains(r.stderr, "first use") {
		t.Fatalf("second use: %+v", r)
	}

	// someone else's sequencer pinned: the real chain's state is refused
	pins.get(1337).Sequencer = common.HexToAddress("0x00000000000000000000000000000000000000a7")
	if err := pins.save(pinFile); err != nil {
		t.Fatal(err)
	}
	before, _ := f.Store.CountSubmissions(context.Background())
	r = submit("--class", "dataset")
	if r.code != 1 || !strings.Contains(r.stderr, "not by the trusted sequencer") || !strings.Contains(r.stderr, "pass --sequencer "+seq.Hex()) {
		t.Fatalf("wrong pinned sequencer: %+v", r)
	}
	if after, _ := f.Store.CountSubmissions(context.Background()); after != before {
		t.Fatalf("a refused submit stored something: %d → %d", before, after)
	}
	// the operator says so explicitly: trusted and pinned again
	if r := submit("--sequencer", seq.Hex()); r.code != 0 {
		t.Fatalf("explicit sequencer: %+v", r)
	}
	if pins, _ := loadPins(pinFile); pins.get(1337).Sequencer != seq {
		t.Fatalf("explicit --sequencer did not re-pin: %+v", pins.get(1337))
	}
	if r := submit("--sequencer", "nope"); r.code != 2 || !strings.Contains(r.stderr, "not a 0x address") {
		t.Fatalf("bad --sequencer: %+v", r)
	}
}

// An iDAO's operator registers a worker's enclave key (as `vscd worker
// --show-key --json` prints it); the chain refuses one its policy does not
// accept, and the client then finds the key proven on chain.
func TestCLIRegisterEnclave(t *testing.T) {
	t.Parallel()
	f := cliFixture(t)
	api, dir := f.HTTP.URL, t.TempDir()
	owner, _ := crypto.GenerateKey()
	if err := servertest.Send(context.Background(), f.Chain, f.OwnerKey, &tx.Transfer{To: keys.Address(owner), Amount: big.NewInt(1_000_000_000)}); err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "owner.key")
	if err := keys.Save(keyFile, owner); err != nil {
		t.Fatal(err)
	}
	worker, err := tee.OpenSim(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	policy, _ := json.Marshal(worker.Policy())
	info, _ := json.Marshal(worker.Info())
	enclaveFile := writeFile(t, dir, "enclave.json", string(info))
	if r := vsc(t, api, "idao", "create", "weather", "--policy", "tee", "--tee-policy", writeFile(t, dir, "policy.json", string(policy)), "--key", keyFile); r.code != 0 {
		t.Fatalf("idao create: %+v", r)
	}
	// demo's policy trusts another root: refused on chain
	if r := vsc(t, api, "idao", "register-enclave", "demo", "--enclave", enclaveFile, "--key", keyFile); r.code != 1 || !strings.Contains(r.stderr, "untrusted root") {
		t.Fatalf("register under a policy that does not accept it: %+v", r)
	}
	if r := vsc(t, api, "idao", "register-enclave", "weather", "--enclave", enclaveFile, "--key", keyFile, "--json"); r.code != 0 || !strings.Contains(strings.ToLower(r.stdout), strings.ToLower(worker.Address().Hex())) {
		t.Fatalf("register-enclave: %+v", r)
	}
	v, err := f.Client.ProvenIDAO(context.Background(), "weather", worker.PublicKeyBytes())
	if err != nil || v.Enclave(worker.PublicKeyBytes()) == nil {
		t.Fatalf("the registered key is not proven on chain: %v", err)
	}
}
