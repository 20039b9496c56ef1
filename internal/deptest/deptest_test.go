// Package deptest enforces the project's import rules (docs/ARCHITECTURE.md,
// "Packages"): each rule names the packages it covers, what they must not
// link (directly or through any dependency) and why, and the test fails on
// a forbidden edge — like tailscale's deptest for its daemon. Patterns ending
// in /... cover every subpackage.
package deptest

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

const mod = "github.com/vsc-labs/vsc/"

// Import path prefixes the rules forbid. An entry ending in "/" is a prefix;
// otherwise it covers the package and everything below it.
var (
	natsAny    = []string{"github.com/nats-io/"}
	natsServer = []string{"github.com/nats-io/nats-server/"}
	postgres   = []string{"github.com/jackc/pgx", "github.com/pressly/goose", mod + "migrations"}
	roles      = []string{mod + "tee/worker", mod + "prover/worker", mod + "optimistic/watcher", mod + "quorum/member", mod + "chain/node"}
	coordAny   = []string{mod + "coordinator"}
	chainAny   = []string{mod + "chain"}
	chainExec  = []string{mod + "chain/exec"}
	serverSide = []string{mod + "coordinator/server", mod + "coordinator/store", mod + "coordinator/chainlink"}
	// gnark's proving backend (setup, prove, the Solidity export): a client
	// proves nothing and must stay small
	gnarkBackend = []string{"github.com/consensys/gnark/backend", "github.com/consensys/gnark/frontend", mod + "prover"}
)

// rule is one import rule.
type rule struct {
	name     string
	patterns []string // go list patterns, relative to the module root
	except   []string // packages (and their subpackages) the rule exempts
	forbid   [][]string
	why      string
}

var rules = []rule{
	{name: "pure rules do no I/O",
		patterns: []string{"./idao", "./dat", "./quorum", "./optimistic", "./internal/records", "./internal/envelope",
			"./internal/submission", "./internal/eip712", "./internal/merkle", "./internal/codes", "./internal/work", "./internal/page",
			"./dat/escrow", "./internal/jobreq"},
		forbid: [][]string{natsAny, postgres, coordAny, roles},
		why:    "the chain, the coordinator and every member share these rules; they take values and return values, and are tested in microseconds"},
	{name: "the verifiers' pure parts know no coordinator and no chain",
		patterns: []string{"./tee", "./prover"},
		forbid:   [][]string{natsAny, postgres, coordAny, chainAny},
		why:      "an enclave and a prover check data; where the result goes is the roles' business"},
	{name: "the enclave's query engine is pure",
		patterns: []string{"./tee/query"},
		forbid:   [][]string{natsAny, postgres, coordAny, chainAny, roles},
		why:      "the engine takes a parsed dataset and a query and returns a result: the enclave's worker does the I/O, and the engine is tested in microseconds"},
	{name: "the chain links no coordinator, no NATS, no PostgreSQL, no other role",
		patterns: []string{"./chain/..."},
		forbid:   [][]string{coordAny, natsAny, postgres, roles[:4]},
		why:      "the chain is the judge of what the coordinator sends: it may not depend on it, nor on its transports"},
	{name: "roles do not reach into the coordinator",
		patterns: []string{"./tee/...", "./prover/...", "./optimistic/...", "./quorum/..."},
		forbid:   [][]string{coordAny},
		why:      "workers and members talk to the coordinator over NATS, never through its code: a member must not be able to trust it by accident"},
	{name: "the coordinator links no worker or member",
		patterns: []string{"./coordinator/..."},
		except:   []string{mod + "coordinator/server/servertest"},
		forbid:   [][]string{roles[:4]},
		why:      "the coordinator routes work; it must not run it or vote (test helpers may run anything)"},
	{name: "the data-service provider runs in no coordinator and no chain",
		patterns: []string{"./coordinator/...", "./chain/..."},
		except:   []string{mod + "coordinator/server/servertest"},
		forbid:   [][]string{{mod + "tee/provider"}},
		why:      "the provider answers jobs inside the iDAO's enclave; the coordinator routes them and the chain judges its settlements, neither may run it"},
	{name: "the store links no NATS",
		patterns: []string{"./coordinator/store/..."},
		forbid:   [][]string{natsAny},
		why:      "the store is PostgreSQL only; the bus types it keeps live in internal/work"},
	{name: "a member links no PostgreSQL",
		patterns: []string{"./quorum/..."},
		forbid:   [][]string{postgres},
		why:      "a member runs on its own machine with its bbolt vote record; it needs no database"},
	{name: "only the binaries that embed nats-server link it",
		patterns: []string{"./..."},
		except:   []string{mod + "cmd/vscd", mod + "internal/natsembed", mod + "internal/testenv", mod + "coordinator/server/servertest"},
		forbid:   [][]string{natsServer},
		why:      "roles connect to NATS as clients; the server (megabytes of code) belongs to the processes that run one"},
	{name: "the cluster supervisor only runs processes",
		patterns: []string{"./internal/cluster/..."},
		forbid:   [][]string{natsAny, postgres, coordAny, chainAny, roles},
		why:      "it starts, restarts and kills OS processes from the command lines cmd/vscd gives it; what the roles are is theirs"},
	{name: "the SDK links no server internals, no execution, no transports",
		patterns: []string{"./coordinator/client/..."},
		forbid:   [][]string{serverSide, chainExec, natsAny, postgres, gnarkBackend, roles},
		why:      "apps import the SDK: it talks HTTP, checks proofs, and must stay small"},
	{name: "the Web UI is files: it links no server internals, no chain, no transports",
		patterns: []string{"./coordinator/ui"},
		forbid:   [][]string{serverSide, chainAny, natsAny, postgres, gnarkBackend, roles},
		why:      "the UI serves embedded files and reads the public APIs from the browser like any client; the coordinator mounts it, never the other way round"},
	{name: "the vsc binary links no pgx, no nats-server, no gnark prover",
		patterns: []string{"./cmd/vsc/..."},
		forbid:   [][]string{serverSide, chainExec, natsAny, postgres, gnarkBackend, roles},
		why:      "the CLI is a client of the HTTP API, built on the SDK alone"},
}

type pkg struct {
	ImportPath string
	Deps       []string
}

// list runs go list over patterns and returns the packages with their
// transitive dependencies (test files left out).
func list(t *testing.T, patterns []string) []pkg {
	t.Helper()
	args := append([]string{"list", "-e", "-json=ImportPath,Deps"}, patterns...)
	cmd := exec.Command("go", args...)
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %s: %v", strings.Join(patterns, " "), err)
	}
	var ps []pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	return ps
}

func TestImportRules(t *testing.T) {
	t.Parallel()
	for _, r := range rules {
		t.Run(r.name, func(t *testing.T) {
			t.Parallel()
			n := 0
			for _, p := range list(t, r.patterns) {
				if exempt(r.except, p.ImportPath) {
					continue
				}
				n++
				for _, d := range p.Deps {
					for _, group := range r.forbid {
						for _, f := range group {
							if forbids(f, d) && !forbids(f, p.ImportPath) {
								t.Errorf("%s links %s: %s", p.ImportPath, d, r.why)
							}
						}
					}
				}
			}
			if n == 0 {
				t.Fatalf("the rule's patterns %v match no package: fix the rule", r.patterns)
			}
		})
	}
}

func exempt(except []string, path string) bool {
	for _, e := range except {
		if forbids(e, path) {
			return true
		}
	}
	return false
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
	// a rule over a package that does link a forbidden one fails
	var caught bool
	for _, p := range list(t, []string{"./coordinator/store"}) {
		for _, d := range p.Deps {
			caught = caught || forbids("github.com/jackc/pgx", d)
		}
	}
	if !caught {
		t.Fatal("the store links pgx, but the check does not see it")
	}
}
