package main

import (
	"context"
	"encoding/json"
	"math/big"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/chain/tx"
	"github.com/vsc-labs/vsc/coordinator/server/servertest"
	"github.com/vsc-labs/vsc/idao"
)

// `vsc submit` refuses, before anything is uploaded, a dataset that none of
// the iDAO's zk shapes fits, naming the shapes; in mode tee it goes through.
func TestCLISubmitRefusesAFieldCountNoShapeFits(t *testing.T) {
	t.Parallel()
	f := cliFixture(t)
	ctx := context.Background()
	dao, err := f.Chain.IDAO("demo")
	if err != nil {
		t.Fatal(err)
	}
	p := dao.Policy
	p.ZKShapes = []idao.ZKShape{{Fields: 1, Chunk: 64, VKHash: common.Hash{1}}, {Fields: 2, Chunk: 64, VKHash: common.Hash{2}}}
	p.Price = big.NewInt(0)
	if err := servertest.Send(ctx, f.Chain, f.OwnerKey, &tx.IDAOSetPolicy{Name: "demo", Policy: p}); err != nil {
		t.Fatal(err)
	}
	api, dir := f.HTTP.URL, t.TempDir()
	keyFile := filepath.Join(dir, "me.key")
	if r := vsc(t, api, "key", "new", "--out", keyFile); r.code != 0 {
		t.Fatalf("key new: %+v", r)
	}
	data := writeFile(t, dir, "wide.csv", "a,b,c\n1,2,3\n4,5,6\n")
	r := vsc(t, api, "submit", data, "--idao", "demo", "--mode", "tee+zk", "--key", keyFile, "--allow-simulation")
	if r.code == 0 || !strings.Contains(r.stderr, "no zk circuit for 3-field records") || !strings.Contains(r.stderr, "1 field (chunks of 64) or 2 fields (chunks of 64)") {
		t.Fatalf("submit of 3 fields: %+v", r)
	}
	if n, err := f.Bus.BlobCount(ctx); err != nil || n != 0 {
		t.Fatalf("%d blobs stored after the refusal (%v)", n, err)
	}
	r = vsc(t, api, "submit", data, "--idao", "demo", "--mode", "tee", "--key", keyFile, "--allow-simulation", "--json")
	var v map[string]any
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &v) != nil || v["fields"] != float64(3) {
		t.Fatalf("submit in mode tee: %+v", r)
	}
}
