package store_test

import (
	"context"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/coordinator/store"
	"github.com/vsc-labs/vsc/internal/testenv"
)

// A class's jobs page newest first by (created_at, id), each once, and
// only that class's: the class page's usage.
func TestClassJobsPageNewestFirst(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := store.Open(ctx, testenv.Database(t), 4, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	class, other := common.HexToHash("0xc1"), common.HexToHash("0xc2")
	const n = 250
	// created_at repeats every 3 rows, so the id breaks ties; every 5th job is of another class
	if _, err := st.Pool.Exec(ctx, `INSERT INTO jobs (id, app, provider, class, token, idao, units, max_fee, nonce, deadline, query,
		request, signature, status, created_at)
		SELECT decode(lpad(to_hex(i), 64, '0'), 'hex'), '\x0a', '\x0b', CASE WHEN i % 5 = 0 THEN $2::bytea ELSE $3::bytea END, '\x70',
			'demo', 1, 2, i, 9999999999, 'SELECT count(*)', '{}', '\x00', 'running', '2026-01-01'::timestamptz + (i / 3) * interval '1 second'
		FROM generate_series(1, $1) i`, n, other[:], class[:]); err != nil {
		t.Fatal(err)
	}
	seen := map[common.Hash]bool{}
	var after []byte
	var last *store.ClassJob
	for {
		page, err := st.ClassJobs(ctx, class, after, 37)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for i := range page {
			j := page[i]
			if seen[j.ID] || j.ID.Big().Int64()%5 == 0 {
				t.Fatalf("job %s repeated or of another class", j.ID.Hex())
			}
			seen[j.ID] = true
			if last != nil && (j.CreatedAt.After(last.CreatedAt) || j.CreatedAt.Equal(last.CreatedAt) && j.ID.Cmp(last.ID) > 0) {
				t.Fatalf("%s after %s: not newest first", j.ID.Hex(), last.ID.Hex())
			}
			if j.MaxFee != "2" || j.Units != 1 || j.Status != "running" {
				t.Fatalf("job %+v read back wrong", j)
			}
			last = &j
		}
		after = last.Key()
	}
	if len(seen) != n-n/5 {
		t.Fatalf("paging visited %d of the class's %d jobs", len(seen), n-n/5)
	}
	if _, err := st.ClassJobs(ctx, class, []byte{1}, 10); err == nil {
		t.Fatal("a sort key of the wrong size was accepted")
	}
}
