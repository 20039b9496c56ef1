package node_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/vsc-labs/vsc/chain/node"
	"github.com/vsc-labs/vsc/chain/tx"
	"github.com/vsc-labs/vsc/internal/codes"
)

// TestOpenAPICodes: the served document's error schemas are the codes
// table's: Error lists what the API answers with (every door error among
// them), ReceiptFailure every execution code.
func TestOpenAPICodes(t *testing.T) {
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]struct {
					Enum []any `json:"enum"`
				} `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
		Paths map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(node.OpenAPI, &doc); err != nil || len(doc.Paths) == 0 {
		t.Fatalf("OpenAPI: %v", err)
	}
	enum := func(schema string) []string {
		var out []string
		for _, v := range doc.Components.Schemas[schema].Properties["code"].Enum {
			out = append(out, v.(string))
		}
		return out
	}
	names := func(cs []codes.Code) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.Name())
		}
		return out
	}
	if got, want := enum("Error"), names(node.APICodes()); !slices.Equal(got, want) {
		t.Fatalf("Error codes %v, want %v", got, want)
	}
	if got, want := enum("ReceiptFailure"), names(node.ReceiptCodes()); !slices.Equal(got, want) || len(got) == 0 {
		t.Fatalf("ReceiptFailure codes %v, want %v", got, want)
	}
	for _, err := range []error{node.ErrBadSignature, node.ErrWrongChain, node.ErrNonceReplayed, node.ErrNonceGap,
		node.ErrNoncePending, node.ErrFeeTooLow, node.ErrCannotAfford, node.ErrMalformed, node.ErrTooLarge, node.ErrKnownTx,
		node.ErrSenderFull, node.ErrMempoolFull, node.ErrNotProducing, node.ErrTxNotFound, node.ErrNotSequencer,
		node.ErrDropped, node.ErrNotFound} {
		if !slices.Contains(node.APICodes(), codes.Of(err)) {
			t.Errorf("%q answers with %s, which the document does not list", err, codes.Of(err))
		}
	}
}

// TestOpenAPIStatesTheTxTypedData: the document states the version-2 tx's
// EIP-712 type and domain name exactly as chain/tx signs them (a contract
// wallets and other SDKs build on).
func TestOpenAPIStatesTheTxTypedData(t *testing.T) {
	for _, want := range []string{tx.TypeString, `{name: \"` + tx.TypedDomainName + `\", version: \"1\", chainId}`} {
		if !strings.Contains(string(node.OpenAPI), want) {
			t.Errorf("the chain's OpenAPI does not state %s", want)
		}
	}
}
