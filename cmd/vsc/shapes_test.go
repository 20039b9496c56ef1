package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/chain/tx"
	"github.com/vsc-labs/vsc/coordinator/client"
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

// TestMain lowers the size over which `vsc submit` streams a dataset, so
// the CLI tests' larger files take the streamed path.
func TestMain(m *testing.M) {
	client.StreamAbove = 2 << 10
	os.Exit(m.Run())
}

// A dataset over client.StreamAbove is encrypted in chunks into a blob file,
// uploaded as a stream with progress on stderr, and submitted; the blob file
// and its resume state are gone afterwards, and the coordinator holds the
// blob the submission signed.
func TestCLISubmitStreamsALargeDataset(t *testing.T) {
	t.Parallel()
	f := cliFixture(t)
	api, dir := f.HTTP.URL, t.TempDir()
	keyFile := filepath.Join(dir, "me.key")
	if r := vsc(t, api, "key", "new", "--out", keyFile); r.code != 0 {
		t.Fatalf("key new: %+v", r)
	}
	var b strings.Builder
	b.WriteString("a,b\n")
	for i := range 2000 {
		fmt.Fprintf(&b, "%d,%d\n", i, -i)
	}
	data := writeFile(t, dir, "big.csv", b.String())
	r := vsc(t, api, "submit", data, "--idao", "demo", "--mode", "tee", "--key", keyFile, "--allow-simulation", "--json")
	var v map[string]any
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &v) != nil || v["records"] != float64(2000) {
		t.Fatalf("streamed submit: %+v", r)
	}
	if !strings.Contains(r.stderr, "in chunks") || !strings.Contains(r.stderr, "uploaded") {
		t.Fatalf("no progress on stderr: %q", r.stderr)
	}
	ok, err := f.Bus.HasBlob(context.Background(), common.HexToHash(v["data_hash"].(string)))
	if err != nil || !ok {
		t.Fatalf("the signed blob is not stored: %v", err)
	}
	left, _ := filepath.Glob(filepath.Join(os.TempDir(), "vsc-upload-*"))
	for _, l := range left {
		if st, err := os.Stat(l); err == nil && time.Since(st.ModTime()) < time.Minute {
			if raw, _ := os.ReadFile(l); strings.Contains(string(raw), v["data_hash"].(string)) {
				t.Fatalf("resume state %s left after the submission", l)
			}
		}
	}
}
