package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vsc-labs/vsc/coordinator"
	"github.com/vsc-labs/vsc/coordinator/client"
	"github.com/vsc-labs/vsc/internal/codes"
	"github.com/vsc-labs/vsc/internal/keys"
)

// wideDataset is n records of fields fields, with a header.
func wideDataset(n, fields int) string {
	var b strings.Builder
	for f := range fields {
		if f > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "f%d", f)
	}
	b.WriteByte('\n')
	for i := range n {
		for f := range fields {
			if f > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "%d", (i+1)*(f+3)-7)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// The demo iDAO registers a zk shape per field count 1..8: datasets of 1,
// 5 and 8 fields are minted in tee+zk, each proven under its own shape;
// 9 fields are refused before anything is uploaded, with the shapes listed;
// a submission declaring another field count than its data has is
// rejected by the verifiers, with the reason.
func TestZKShapes(t *testing.T) {
	t.Parallel()
	d := startDevnet(t, nil)
	ctx := context.Background()
	view, err := d.api.IDAO(ctx, "demo")
	if err != nil {
		t.Fatal(err)
	}
	if len(view.ZKShapes) != devnetZKFields {
		t.Fatalf("demo iDAO lists %d zk shapes, want %d", len(view.ZKShapes), devnetZKFields)
	}
	ids := map[int]string{}
	for _, f := range []int{1, 5, 8} {
		ids[f] = d.submit(wideDataset(6, f), "tee+zk")
	}
	for f, id := range ids {
		v := d.wait(id, 2*time.Minute)
		if v.Status != coordinator.Minted || v.Fields != uint32(f) {
			t.Fatalf("%d fields: status %s, fields %d, reason %v", f, v.Status, v.Fields, v.Reason)
		}
	}

	key := d.key("contributor")
	before, err := d.api.NextNonce(ctx, keys.Address(key))
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.api.Prepare(ctx, []byte(wideDataset(6, 9)), client.PrepareOptions{IDAO: "demo", Mode: "tee+zk", Contributor: keys.Address(key)})
	if !client.IsCode(err, codes.ZKShapeMissing) || !strings.Contains(err.Error(), "8 fields (chunks of 4)") || !strings.Contains(err.Error(), "9-field") {
		t.Fatalf("9 fields: err = %v, want zk_shape_missing listing the shapes", err)
	}
	if after, _ := d.api.NextNonce(ctx, keys.Address(key)); after != before {
		t.Fatalf("the refused dataset moved the nonce %d → %d", before, after)
	}

	// a 9-field submission that skips the client's check: intake refuses it
	p, err := d.api.Prepare(ctx, []byte(wideDataset(6, 9)), client.PrepareOptions{IDAO: "demo", Mode: "tee", Contributor: keys.Address(key)})
	if err != nil {
		t.Fatal(err)
	}
	p.Submission.Mode = "tee+zk"
	sig, _ := p.Submission.Sign(p.ChainID, key)
	if _, _, err := d.api.Submit(ctx, p.Request(sig), p.Blob()); !client.IsCode(err, codes.NoZKShape) || !strings.Contains(err.Error(), "1 field (chunks of 4)") {
		t.Fatalf("intake of 9 fields: err = %v, want no_zk_shape listing the shapes", err)
	}

	// 5 fields of data, 4 declared: the shape of 4 is picked, the data refutes it
	p, err = d.api.Prepare(ctx, []byte(wideDataset(6, 5)), client.PrepareOptions{IDAO: "demo", Mode: "tee+zk", Contributor: keys.Address(key)})
	if err != nil {
		t.Fatal(err)
	}
	p.Submission.Fields = 4
	sig, _ = p.Submission.Sign(p.ChainID, key)
	v, _, err := d.api.Submit(ctx, p.Request(sig), p.Blob())
	if err != nil {
		t.Fatal(err)
	}
	v = d.wait(v.ID, 2*time.Minute)
	if v.Status != coordinator.Rejected || v.Reason == nil || !strings.Contains(*v.Reason, "5 fields per record") || !strings.Contains(*v.Reason, "declares 4") {
		t.Fatalf("declared 4 fields for 5: status %s, reason %v", v.Status, v.Reason)
	}
}
