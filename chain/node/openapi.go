package node

import (
	_ "embed"
	"encoding/json"
	"fmt"

	"github.com/vsc-labs/vsc/internal/codes"
)

//go:embed openapi.json
var openapiDoc []byte

// OpenAPI is the OpenAPI fragment documenting Handler's paths. Its error
// schemas come from the codes table (internal/codes): Error lists the
// codes the chain's API answers with, ReceiptFailure the codes a failed
// receipt (or a skipped item) carries.
var OpenAPI = withCodes(openapiDoc)

// answered are the shared codes the chain's API answers with besides the
// door's own (3xxx).
var answered = []codes.Code{codes.BadRequest, codes.InvalidField, codes.NotFound, codes.Internal,
	codes.BadSignature, codes.NonceReplayed, codes.NonceGap}

// APICodes are the codes the chain's API answers with, by number.
func APICodes() []codes.Code { return append(codesIn(3), answered...) }

// ReceiptCodes are the codes a failed receipt carries, by number.
func ReceiptCodes() []codes.Code { return codesIn(4) }

// codesIn lists the codes of the thousand th (3: 3xxx).
func codesIn(th uint16) []codes.Code {
	var out []codes.Code
	for _, c := range codes.All() {
		if c.Number()/1000 == th {
			out = append(out, c)
		}
	}
	return out
}

// withCodes writes the error schemas of doc from the codes table.
func withCodes(doc []byte) []byte {
	var d map[string]any
	if err := json.Unmarshal(doc, &d); err != nil {
		panic(fmt.Sprintf("chain/node: openapi.json: %v", err)) // embedded at build time
	}
	comps, _ := d["components"].(map[string]any)
	schemas, _ := comps["schemas"].(map[string]any)
	if schemas == nil {
		panic("chain/node: openapi.json has no components.schemas")
	}
	schemas["Error"] = codeSchema("A refusal: the code's stable name and number, and what was wrong and what to do.",
		APICodes(), "error")
	schemas["ReceiptFailure"] = codeSchema("Why a tx failed in its block (a receipt's code, number and error) or why an "+
		"item of a batch was skipped (its event's \"code\" attribute holds the number; the view adds reason and "+
		"reason_code). Numbers are consensus data: never renumbered.", ReceiptCodes(), "error")
	out, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		panic(fmt.Sprintf("chain/node: openapi: %v", err))
	}
	return out
}

func codeSchema(desc string, cs []codes.Code, text string) map[string]any {
	names, nums, lines := make([]string, len(cs)), make([]uint16, len(cs)), ""
	for i, c := range cs {
		names[i], nums[i] = c.Name(), c.Number()
		lines += fmt.Sprintf("\n- %d %s (HTTP %d): %s", c.Number(), c.Name(), c.HTTP(), c.Sentence())
	}
	return map[string]any{
		"type":        "object",
		"description": desc + lines,
		"required":    []string{"code", "number", text},
		"properties": map[string]any{
			"code":   map[string]any{"type": "string", "enum": names},
			"number": map[string]any{"type": "integer", "enum": nums},
			text:     map[string]any{"type": "string"},
		},
	}
}
