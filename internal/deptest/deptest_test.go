// Package deptest enforces DESIGN.md's import rules: each top-level package
// lists what it must not import, and this test fails on a forbidden edge
// (like tailscale's deptest).
package deptest

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

const mod = "github.com/vsc-labs/vsc/"

var (
	nats     = []string{"github.com/nats-io/"}
	postgres = []string{"github.com/jackc/pgx", "github.com/pressly/goose"}
	workers  = []string{mod + "tee/worker", mod + "prover/worker", mod + "optimistic/watcher", mod + "quorum/member", mod + "chain/node"}
	coordPkg = []string{mod + "coordinator"}
	// gnark's proving backend (Groth16 setup and prove, the Solidity
	// export): the client verifies nothing with it and must stay small
	gnarkBackend = []string{"github.com/consensys/gnark/backend"}
)

func concat(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// rules: package pattern (go list) → forbidden import prefixes.
var rules = map[string][]string{
	"./cmd/vsc":          concat([]string{mod + "coordinator/server", mod + "coordinator/store", mod + "migrations"}, workers, nats, postgres, gnarkBackend),
	"./coordinator/...":  {mod + "tee/worker", mod + "prover/worker", mod + "optimistic/watcher", mod + "quorum/member"},
	"./tee":              concat(coordPkg, []string{mod + "chain"}, nats, postgres),
	"./prover":           concat(coordPkg, []string{mod + "chain"}, nats, postgres),
	"./optimistic":       concat(coordPkg, nats, postgres),
	"./quorum":           concat(coordPkg, nats, postgres),
	"./idao":             concat(coordPkg, nats, postgres),
	"./dat":              concat(coordPkg, nats, postgres),
	"./chain/...":        concat(coordPkg, nats, postgres, workers[:4]),
	"./internal/records": concat(coordPkg, nats, postgres),
}

type pkg struct {
	ImportPath string
	Deps       []string
}

func TestImportRules(t *testing.T) {
	t.Parallel()
	for pattern, forbidden := range rules {
		t.Run(pattern, func(t *testing.T) {
			out, err := exec.Command("go", "list", "-e", "-deps=false", "-json=ImportPath,Deps", "../../"+strings.TrimPrefix(pattern, "./")).Output()
			if err != nil {
				t.Skipf("go list %s: %v (no such package yet)", pattern, err)
			}
			dec := json.NewDecoder(strings.NewReader(string(out)))
			n := 0
			for dec.More() {
				var p pkg
				if err := dec.Decode(&p); err != nil {
					t.Fatal(err)
				}
				if strings.Contains(p.ImportPath, "/servertest") {
					continue // test helpers may run anything
				}
				n++
				for _, d := range p.Deps {
					for _, f := range forbidden {
						if forbids(f, d) {
							t.Errorf("%s imports %s, which DESIGN.md forbids", p.ImportPath, d)
						}
					}
				}
			}
			if n == 0 {
				t.Skipf("%s matched no packages yet", pattern)
			}
		})
	}
}

// forbids reports whether the forbidden entry f covers import path d: f
// itself and everything below it (an entry ending in "/" is a prefix).
func forbids(f, d string) bool {
	if strings.HasSuffix(f, "/") {
		return strings.HasPrefix(d, f)
	}
	return d == f || strings.HasPrefix(d, f+"/")
}

func TestForbidsCanFail(t *testing.T) {
	t.Parallel()
	if !forbids(mod+"coordinator", mod+"coordinator/store") || !forbids("github.com/nats-io/", "github.com/nats-io/nats.go") ||
		forbids(mod+"chain", mod+"chainx") || !forbids("github.com/jackc/pgx", "github.com/jackc/pgx/v5/pgxpool") {
		t.Fatal("forbids matches wrongly")
	}
}
