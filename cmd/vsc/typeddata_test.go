package main

import (
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/coordinator/client"

	"github.com/vsc-labs/vsc/internal/eip712"
	"github.com/vsc-labs/vsc/internal/keys"
	"github.com/vsc-labs/vsc/internal/testenv"
)

// hashTypedDataJSON hashes eth_signTypedData_v4 JSON the way a wallet does.
func hashTypedDataJSON(raw json.RawMessage) (common.Hash, error) {
	var td eip712.TypedData
	if err := json.Unmarshal(raw, &td); err != nil {
		return common.Hash{}, err
	}
	return eip712.HashTypedData(td)
}

// The typed data `vsc submit --prepare` writes is signed by two independent
// wallet implementations (ethers v6 and MetaMask's eth-sig-util, run by
// node): both sign it as given, the Go verifier accepts each signature as
// the contributor's, and vsc submits it.
func TestCLIPrepareSignedByWalletLibraries(t *testing.T) {
	t.Parallel()
	web := testenv.WebTest(t)
	f := cliFixture(t)
	api, dir := f.HTTP.URL, t.TempDir()
	wallet, _ := crypto.GenerateKey()
	addr := keys.Address(wallet)
	out := filepath.Join(dir, "sub.json")
	if r := vsc(t, api, "submit", writeFile(t, dir, "d.csv", "x,y\n1,2\n"), "--idao", "demo", "--from", addr.Hex(), "--prepare", out, "--allow-simulation"); r.code != 0 {
		t.Fatalf("prepare: %+v", r)
	}
	cmd := exec.Command("node", filepath.Join(web, "typeddata.mjs"), out, hexutil.Encode(crypto.FromECDSA(wallet)))
	raw, err := cmd.Output()
	if err != nil {
		t.Fatalf("node typeddata.mjs: %v %s", err, stderrOf(err))
	}
	var sigs struct {
		Address    string `json:"address"`
		Ethers     string `json:"ethers"`
		EthSigUtil string `json:"eth_sig_util"`
	}
	if err := json.Unmarshal(raw, &sigs); err != nil || !strings.EqualFold(sigs.Address, addr.Hex()) {
		t.Fatalf("node printed %s (%v)", raw, err)
	}
	p, err := client.LoadPrepared(out)
	if err != nil {
		t.Fatal(err)
	}
	for name, sig := range map[string]string{"ethers": sigs.Ethers, "eth-sig-util": sigs.EthSigUtil} {
		b, err := hexutil.Decode(sig)
		if err != nil {
			t.Fatalf("%s signature %q: %v", name, sig, err)
		}
		if err := p.Submission.Verify(p.ChainID, b); err != nil {
			t.Fatalf("%s signature refused: %v", name, err)
		}
		if r := vsc(t, api, "submit", "--prepared", out, "--signature", sig, "--json"); r.code != 0 {
			t.Fatalf("submit --prepared with the %s signature: %+v", name, r)
		}
	}
	if n, _ := f.Store.CountSubmissions(context.Background()); n != 1 {
		t.Fatalf("%d submissions stored, want the one (both signatures are of the same submission)", n)
	}
}

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}
