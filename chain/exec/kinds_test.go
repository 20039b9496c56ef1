package exec

import (
	"testing"

	"github.com/vsc-labs/vsc/chain/tx"
)

// TestKindsTable: every tx kind has exactly one entry among the files'
// lists, each entry is complete (access and apply; prepare and moves are
// optional), and no entry is for a number that is no kind.
func TestKindsTable(t *testing.T) {
	lists := map[string]map[tx.Kind]rule{"accounts": accountRules, "idao": idaoRules, "anchor": anchorRules,
		"dat": datRules, "bonds": bondRules, "optimistic": optimisticRules, "services": serviceRules}
	in := map[tx.Kind][]string{}
	for name, l := range lists {
		for k, r := range l {
			in[k] = append(in[k], name)
			if r.access == nil || r.apply == nil {
				t.Errorf("kind %s (%s.go): entry without access or apply", k, name)
			}
			if !k.Known() {
				t.Errorf("%s.go has an entry for %d, which is no tx kind", name, k)
			}
		}
	}
	for _, k := range tx.Kinds() {
		if len(in[k]) != 1 {
			t.Errorf("kind %s has %d entries %v, want 1", k, len(in[k]), in[k])
		}
	}
	if len(rules) != len(tx.Kinds()) {
		t.Errorf("the table holds %d kinds, tx has %d", len(rules), len(tx.Kinds()))
	}
}
