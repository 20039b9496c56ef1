package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/coordinator"
	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/internal/keys"
	"github.com/vsc-labs/vsc/internal/testenv"
)

// TestBrowserUI runs the Web UI's browser tests (web/test/browser.test.mjs,
// node's test runner, playwright-core driving Debian's chromium) against a
// devnet: a wallet in the page submits a dataset through the UI and
// follows it to minted, checks its DAT's provenance, verifies its anchor
// in the page and finds it by search, and no request body carries the
// dataset's plaintext; from a DAT class page the wallet signs a query's
// JobRequest, the page follows the job live and verifies its answer in
// the browser (vsc.wasm) and decrypts it with the answer key the page
// made (the wallet signed its AnswerKey binding), showing the plaintext's
// aggregates, and the job page shows it settled and, after a reload, that
// the key is gone, after the page bought the quota and funded the escrow
// with txs the wallet signed (EIP-712, version 2) and saw the units arrive
// on the token; a CLI dat_redeem shows in the class page's usage; a faulty
// optimistic claim's bisection game is drawn;
// a CLI submission shows on the home
// page within 2 s without a reload; every page renders at 1280 and 390 px
// without a console error. Screenshots go to web/test/out (gitignored). It
// skips, saying why, without chromium or node (scripts/ensure-chromium.sh).
func TestBrowserUI(t *testing.T) {
	chrome := testenv.Chromium(t)
	web := testenv.WebTest(t)
	t.Parallel()
	d := startDevnet(t, func(c *devnetConfig) { c.FaultyExecutor = true })
	// a faulty optimistic claim, challenged and overturned: the claims pages
	// have a bisection game to draw
	if v := d.wait(d.submit(dataset6, "optimistic"), 2*time.Minute); v.Status != coordinator.Overturned {
		t.Fatalf("the faulty claim ended %s, want overturned", v.Status)
	}
	// a class to query from the browser. The wallet is the devnet's app
	// key, funded at genesis: the page buys its quota (dat_buy) and funds
	// its sub-account with the provider (escrow_deposit) through the UI,
	// the wallet signing both version-2 txs; nothing is bought here
	data, want := servicesData()
	v := d.wait(d.submit(data, idao.ModeTEE), 3*time.Minute)
	if v.Status != coordinator.Minted || v.DATID == nil {
		t.Fatalf("submission %s: %s (%s)", v.ID, v.Status, deref(v.Reason))
	}
	wallet := d.key("app")
	class := common.HexToHash(*v.DATID)
	if tk, err := d.api.DATTokens(context.Background(), keys.Address(wallet), class); err != nil || len(tk.Tokens) != 0 {
		t.Fatalf("the wallet holds %v tokens of the class before the page buys (%v)", tk, err)
	}
	bin := filepath.Join(t.TempDir(), "vsc")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/vsc-labs/vsc/cmd/vsc").CombinedOutput(); err != nil {
		t.Fatalf("build vsc: %v\n%s", err, out)
	}
	out := filepath.Join(web, "out")
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "--test", "--test-concurrency=1", "--test-reporter=spec", filepath.Join(web, "browser.test.mjs"))
	cmd.Dir = web
	cmd.Env = append(os.Environ(),
		"VSC_URL=http://"+d.coord.Addr(),
		"VSC_CHROMIUM="+chrome,
		"VSC_WALLET_KEY="+hexutil.Encode(crypto.FromECDSA(wallet)),
		"VSC_CHAIN_ID="+strconv.FormatUint(d.chain.ChainID(), 10),
		"VSC_BIN="+bin,
		"VSC_CLI_KEY="+filepath.Join(d.cfg.Data, "keys", "contributor.key"),
		"VSC_APP_KEY="+filepath.Join(d.cfg.Data, "keys", "app.key"),
		"VSC_SEQUENCER="+d.chain.Sequencer().Hex(),
		"VSC_TEST_OUT="+out,
		"VSC_EXPECT_GAME=1",
		"VSC_QUERY_CLASS="+class.Hex(),
		"VSC_QUERY_ROWS="+queryRows(want),
	)
	res, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("browser tests failed (%v); screenshots in %s:\n%s", err, out, res)
	}
	t.Logf("browser tests passed; screenshots in %s\n%s", out, res)
}

// queryRows is what SELECT region, count(*) GROUP BY region answers over
// servicesData's plaintext, above the privacy floor of 10, as
// "region:count,…" in region order.
func queryRows(want map[int64][2]int64) string {
	var out []string
	for region := int64(1); region <= int64(len(want)); region++ {
		if w := want[region]; w[0] >= 10 {
			out = append(out, fmt.Sprintf("%d:%d", region, w[0]))
		}
	}
	return strings.Join(out, ",")
}
