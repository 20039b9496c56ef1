package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vsc-labs/vsc/chain/node"
	"github.com/vsc-labs/vsc/coordinator"
	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/internal/testenv"
	"github.com/vsc-labs/vsc/tee"
)

// dashboardFile is the Grafana dashboard in deploy/.
const dashboardFile = "../../deploy/grafana-dashboard.json"

// dashboardMetrics is every vsc metric the dashboard's queries name.
func dashboardMetrics(t *testing.T) map[string]bool {
	t.Helper()
	raw, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &d); err != nil || len(d.Panels) == 0 {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	names := map[string]bool{}
	re := regexp.MustCompile(`\bvsc_[a-z0-9_]+`)
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			for _, n := range re.FindAllString(tg.Expr, -1) {
				names[n] = true
			}
		}
	}
	return names
}

// TestDashboardMetricsExported: every metric the Grafana dashboard's
// queries name is exported by some role — a devnet's coordinator (with
// its TEE worker's and chain's gauges) after a submission, and a verifying
// follower of its chain.
func TestDashboardMetricsExported(t *testing.T) {
	t.Parallel()
	d := startDevnet(t, nil)
	if v := d.wait(d.submit(dataset6, idao.ModeTEE), time.Minute); v.Status != coordinator.Minted {
		t.Fatalf("submission %s", v.Status)
	}
	policy := d.enclave.Policy()
	f, err := node.New(node.Config{DataDir: t.TempDir(), Genesis: d.chain.Genesis(), Enclave: tee.KeyRegistry{Default: &policy},
		Follow: &node.Follow{URL: "http://" + d.coord.Addr(), Poll: 10 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	freg := prometheus.NewRegistry()
	chainMetrics(freg, f)
	testenv.Eventually(t, 30*time.Second, func() error {
		if f.Head().Height != d.chain.Head().Height {
			return fmt.Errorf("follower at %d", f.Head().Height)
		}
		return nil
	})
	exported := map[string]bool{}
	for _, g := range []prometheus.Gatherer{d.coord.Registry(), freg} {
		fams, err := g.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, fam := range fams {
			exported[fam.GetName()] = true
			if fam.GetType().String() == "HISTOGRAM" {
				for _, s := range []string{"_bucket", "_sum", "_count"} {
					exported[fam.GetName()+s] = true
				}
			}
		}
	}
	for name := range dashboardMetrics(t) {
		if !exported[name] {
			var have []string
			for n := range exported {
				if strings.HasPrefix(n, "vsc_") {
					have = append(have, n)
				}
			}
			t.Errorf("the dashboard queries %s, which no role exports (exported: %v)", name, have)
		}
	}
}
