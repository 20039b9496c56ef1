package api

import (
	"math/big"
	"testing"

	"github.com/vsc-labs/vsc/chain"
	"github.com/vsc-labs/vsc/chain/tx"
	"github.com/vsc-labs/vsc/internal/codes"
)

// TestReceiptView: a failed receipt shows its code by name and number and
// its words (the code's sentence when the node has none); a skipped item's
// event gets its reason.
func TestReceiptView(t *testing.T) {
	skip := chain.Event{Type: "anchor_skipped", Attrs: []chain.Attr{{Key: "digest", Value: "0x01"}, {Key: "code", Value: "4202"}}}
	rc := &chain.Receipt{Kind: tx.KindAnchorBatch, Status: chain.StatusFailed, Fee: big.NewInt(1), Code: codes.UnstakeDelay,
		Detail: "idao: unstake delay below the chain's minimum: 3600 s", Events: []chain.Event{skip}}
	v := NewReceipt(rc)
	if v.Kind != "anchor_batch" || v.Status != "failed" || v.Code != "unstake_delay" || v.Number != 4112 || v.Error != rc.Detail {
		t.Fatalf("view %+v", v)
	}
	if e := v.Events[0]; e.Get("reason") != codes.AlreadyAnchored.Sentence() || e.Get("reason_code") != "already_anchored" || e.Get("code") != "4202" {
		t.Fatalf("skip event %+v", e)
	}
	if err := v.Err(); codes.Of(err) != codes.UnstakeDelay || err.Error() != rc.Detail {
		t.Fatalf("Err: %v", err)
	}
	rc.Detail = ""
	if v := NewReceipt(rc); v.Error != codes.UnstakeDelay.Sentence() {
		t.Fatalf("without words: %q", v.Error)
	}
	ok := NewReceipt(&chain.Receipt{Kind: tx.KindTransfer, Status: chain.StatusSuccess, Fee: big.NewInt(1)})
	if ok.Code != "" || ok.Number != 0 || ok.Error != "" || ok.Err() != nil || ok.Events == nil {
		t.Fatalf("success %+v", ok)
	}
}
