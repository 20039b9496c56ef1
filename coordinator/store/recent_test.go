package store_test

import (
	"context"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/coordinator"
	"github.com/vsc-labs/vsc/coordinator/store"
	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/internal/testenv"
)

// With 10,000 submissions stored, a page of recent submissions is one range
// of the index (no sort of the table), and paging by the sort key visits
// every submission once, newest first.
func TestRecentSubmissionsPageTheIndex(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := store.Open(ctx, testenv.Database(t), 4, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.CreateIDAO(ctx, &coordinator.Registered{IDAO: &idao.IDAO{Name: "demo", Policy: idao.Policy{Modes: []idao.Mode{idao.ModeTEE}}}}); err != nil {
		t.Fatal(err)
	}
	const n = 10000
	// created_at repeats every 7 rows, so the id breaks ties
	if _, err := st.Pool.Exec(ctx, `INSERT INTO submissions (id, idao, mode, class, contributor, data_hash, commitment, records,
		wrapped_key, nonce, signature, chain_id, blob_size, status, created_at)
		SELECT decode(lpad(to_hex(i), 64, '0'), 'hex'), 'demo', 'tee', 'dataset', decode(lpad(to_hex(i), 40, '0'), 'hex'),
			'\x00', '\x00', 1, '\x00', 0, '\x00', 1337, 1, 'received', '2026-01-01'::timestamptz + (i / 7) * interval '1 second'
		FROM generate_series(1, $1) i`, n); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Pool.Exec(ctx, `ANALYZE submissions`); err != nil {
		t.Fatal(err)
	}
	var plan strings.Builder
	rows, err := st.Pool.Query(ctx, `EXPLAIN SELECT id FROM submissions WHERE (created_at, id) < ('2026-01-01T00:10:00Z'::timestamptz, '\x00'::bytea)
		ORDER BY created_at DESC, id DESC LIMIT 51`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var line string
		_ = rows.Scan(&line)
		plan.WriteString(line + "\n")
	}
	rows.Close()
	if !strings.Contains(plan.String(), "submissions_recent") || strings.Contains(plan.String(), "Sort") {
		t.Fatalf("a page is not an index range:\n%s", plan.String())
	}

	seen := map[string]bool{}
	var after []byte
	var last *coordinator.SubmissionSummary
	for pages := 0; ; pages++ {
		page, err := st.RecentSubmissions(ctx, after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for i := range page {
			s := page[i]
			if seen[s.ID] {
				t.Fatalf("page %d repeats %s", pages, s.ID)
			}
			seen[s.ID] = true
			if last != nil && (s.CreatedAt.After(last.CreatedAt) || s.CreatedAt.Equal(last.CreatedAt) && common.HexToHash(s.ID).Cmp(common.HexToHash(last.ID)) > 0) {
				t.Fatalf("%s (%v) after %s (%v): not newest first", s.ID, s.CreatedAt, last.ID, last.CreatedAt)
			}
			last = &s
		}
		after = store.RecentKey(page[len(page)-1])
	}
	if len(seen) != n {
		t.Fatalf("paging visited %d of %d submissions", len(seen), n)
	}
	if _, err := st.RecentSubmissions(ctx, []byte{1, 2}, 10); err == nil {
		t.Fatal("a sort key of the wrong size was accepted")
	}
}
