package query

import (
	"os"
	"strings"
	"testing"
)

// docs/QUERY.md states the limits the code has.
func TestDocsStateTheLimits(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../docs/QUERY.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, row := range []string{
		"| query text | 4,096 bytes |", "| select items | 32 |", "| GROUP BY columns | 8 |",
		"| nesting of parentheses and NOT in WHERE | 32 |", "| conditions in WHERE | 256 |",
		"| values in an IN list | 256 |", "| histogram buckets | 1,024 |", "| result cells (shown rows × columns) | 100,000 |",
		"(default 10;", "rounded to 6 decimal places",
	} {
		if !strings.Contains(doc, row) {
			t.Errorf("docs/QUERY.md does not say %q", row)
		}
	}
	if MaxQueryBytes != 4096 || MaxItems != 32 || MaxGroupBy != 8 || MaxDepth != 32 || MaxTerms != 256 ||
		MaxInList != 256 || MaxBuckets != 1024 || MaxCells != 100_000 || DefaultMinGroupSize != 10 || Scale != 6 {
		t.Error("a limit changed: update docs/QUERY.md and this test")
	}
}
