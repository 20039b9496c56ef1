package exec

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/vsc-labs/vsc/internal/codes"
)

// notInExecution are sentinels of those packages that no tx can fail
// with: they are for callers outside the chain's state transition (or,
// for exec.ErrNonce, coded where the nonce is checked).
var notInExecution = map[string]bool{
	"exec.ErrNonce":                 true, // coded as the door codes it: replayed or gap
	"optimistic.ErrUnknownAction":   true, // tx.FromAction's, before a tx exists
	"optimistic.ErrNotEquivocation": true, // optimistic.CheckEquivocation, not used by the chain
	"optimistic.ErrNotFinal":        true, // evidence checks of quorum members
	"optimistic.ErrClaimMismatch":   true,
	"optimistic.ErrDigestMismatch":  true,
	"jobreq.ErrUndecryptable":       true, // an app's check of its answer
	"jobreq.ErrAnswerMismatch":      true,
	"jobreq.ErrAnswerKeyMalformed":  true, // an answer key's binding: the coordinator's and the enclave's check, not settlement's
	"jobreq.ErrAnswerKeyNotBound":   true,
}

// TestFailureCodes: every sentinel error of the packages execution calls
// has exactly one row in failureCodes (or is listed as never met in
// execution), every row's name is that sentinel's (its text is the
// sentinel's text), and every row's code is an execution code or one of
// the door's (4xxx, 3xxx or shared).
func TestFailureCodes(t *testing.T) {
	src := sentinels(t, map[string]string{"exec": ".", "tx": "../tx", "idao": "../../idao", "dat": "../../dat",
		"optimistic": "../../optimistic", "quorum": "../../quorum", "submission": "../../internal/submission",
		"escrow": "../../dat/escrow", "jobreq": "../../internal/jobreq"})
	rows := map[string]bool{}
	for _, row := range failureCodes {
		if rows[row.name] {
			t.Errorf("%s has two rows", row.name)
		}
		rows[row.name] = true
		text, ok := src[row.name]
		if !ok {
			t.Errorf("row %s names no sentinel", row.name)
			continue
		}
		if text != "" && text != row.err.Error() {
			t.Errorf("row %s holds the error %q, the sentinel says %q", row.name, row.err, text)
		}
		if !row.code.Known() || row.code == codes.TxFailed {
			t.Errorf("row %s: code %d is not a specific code of the table", row.name, row.code)
		}
		if CodeOf(row.err) != row.code {
			t.Errorf("row %s: CodeOf gives %s, the row says %s (an earlier row matches it)", row.name, CodeOf(row.err), row.code)
		}
	}
	for name := range src {
		if !rows[name] && !notInExecution[name] {
			t.Errorf("sentinel %s has no failure code: add a row to failureCodes (and a code to internal/codes/chain.go)", name)
		}
	}
	if CodeOf(nil) != codes.OK || CodeOf(os.ErrNotExist) != codes.TxFailed {
		t.Error("CodeOf of nil or of an unknown error")
	}
}

// sentinels finds the package-level Err* variables of each package's
// non-test files (pkg.ErrX → the text of its errors.New, "" if it is made
// otherwise).
func sentinels(t *testing.T, dirs map[string]string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for pkg, dir := range dirs {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("%s: no sources in %s (%v)", pkg, dir, err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			file, err := parser.ParseFile(token.NewFileSet(), f, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range file.Decls {
				g, ok := d.(*ast.GenDecl)
				if !ok || g.Tok != token.VAR {
					continue
				}
				for _, spec := range g.Specs {
					vs := spec.(*ast.ValueSpec)
					for i, n := range vs.Names {
						if !strings.HasPrefix(n.Name, "Err") || i >= len(vs.Values) {
							continue
						}
						out[pkg+"."+n.Name] = errorsNewText(vs.Values[i])
					}
				}
			}
		}
	}
	return out
}

func errorsNewText(e ast.Expr) string {
	call, ok := e.(*ast.CallExpr)
	if !ok || len(call.Args) != 1 {
		return ""
	}
	if sel, ok := call.Fun.(*ast.SelectorExpr); !ok || sel.Sel.Name != "New" {
		return ""
	}
	lit, ok := call.Args[0].(*ast.BasicLit)
	if !ok {
		return ""
	}
	s, err := strconv.Unquote(lit.Value)
	if err != nil {
		return ""
	}
	return s
}
