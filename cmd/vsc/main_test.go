package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"

	srvpkg "github.com/vsc-labs/vsc/coordinator/server"
	"github.com/vsc-labs/vsc/coordinator/server/servertest"
	"github.com/vsc-labs/vsc/internal/bus"
	"github.com/vsc-labs/vsc/internal/eip712"
	"github.com/vsc-labs/vsc/internal/keys"
	"github.com/vsc-labs/vsc/tee"
)

type cliResult struct {
	code           int
	stdout, stderr string
}

func vsc(t *testing.T, api string, args ...string) cliResult {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), append([]string{"--api", api}, args...), &out, &errb)
	return cliResult{code, out.String(), errb.String()}
}

func writeFile(t *testing.T, dir, name, content string) string {
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCLIJourney(t *testing.T) {
	f := servertest.New(t, srvpkg.Config{})
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
	r = vsc(t, api, "submit", data, "--idao", "demo", "--key", keyFile, "--json")
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
	f := servertest.New(t, srvpkg.Config{})
	api, dir := f.HTTP.URL, t.TempDir()
	keyFile := filepath.Join(dir, "me.key")
	if r := vsc(t, api, "key", "new", "--out", keyFile); r.code != 0 {
		t.Fatal(r)
	}
	strict := tee.DevPolicy()
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
		{"mode not accepted", []string{"submit", writeFile(t, dir, "d.csv", "x\n1\n"), "--idao", "demo", "--mode", "optimistic", "--key", keyFile}, 1, "accepts modes"},
		{"missing key", []string{"submit", writeFile(t, dir, "e.csv", "x\n1\n"), "--idao", "demo"}, 2, "--key"},
		{"missing file", []string{"submit", filepath.Join(dir, "nope.csv"), "--idao", "demo", "--key", keyFile}, 1, "no such file"},
		{"bad key file", []string{"submit", writeFile(t, dir, "f.csv", "x\n1\n"), "--idao", "demo", "--key", writeFile(t, dir, "bad.key", "zz")}, 1, "not a hex"},
		{"unknown command", []string{"frobnicate"}, 2, "unknown command"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := vsc(t, api, tc.args...)
			var lines []string // the error line; warnings about simulated enclaves may precede it
			for _, l := range strings.Split(strings.TrimSpace(r.stderr), "\n") {
				if !strings.HasPrefix(l, "warning:") {
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
		})
	}
}

// A wallet signs the prepared file's typed_data (eth_signTypedData_v4) and
// the signature is sent with --prepared.
func TestCLIPrepareAndExternalSignature(t *testing.T) {
	f := servertest.New(t, srvpkg.Config{})
	api, dir := f.HTTP.URL, t.TempDir()
	wallet, _ := crypto.GenerateKey()
	addr := keys.Address(wallet)
	out := filepath.Join(dir, "sub.json")
	r := vsc(t, api, "submit", writeFile(t, dir, "d.csv", "x,y\n1,2\n"), "--idao", "demo", "--from", addr.Hex(), "--prepare", out)
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
	f := servertest.New(t, srvpkg.Config{}, "tee")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go f.WorkerBus(bus.Config{}).Work(ctx, "tee", func(ctx context.Context, j bus.Job) (bus.Result, error) {
		return bus.Result{Rejected: true, Reason: "commitment mismatch (test worker)"}, nil
	})
	api, dir := f.HTTP.URL, t.TempDir()
	keyFile := filepath.Join(dir, "me.key")
	vsc(t, api, "key", "new", "--out", keyFile)
	r := vsc(t, api, "submit", writeFile(t, dir, "d.csv", "x\n1\n"), "--idao", "demo", "--key", keyFile, "--wait", "--json")
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
