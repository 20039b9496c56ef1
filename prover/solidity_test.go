package prover

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/crypto"
)

func TestExportSolidityAndCalldata(t *testing.T) {
	t.Parallel()
	k := testKeys(t, shapeSmall)
	var sol bytes.Buffer
	if err := k.VK.ExportSolidity(&sol); err != nil {
		t.Fatal(err)
	}
	src := sol.String()
	for _, want := range []string{"contract Verifier", "function verifyProof(", "uint256[5] calldata input", "keccak256"} {
		if !strings.Contains(src, want) {
			t.Fatalf("verifier lacks %q", want)
		}
	}
	ds := rangedDataset(rand.New(rand.NewPCG(7, 8)), 3, shapeSmall)
	ds.Records[0][1] = -5 // a negative sum is sent as p - 5
	cp, err := ProveChunk(k, ds, 0)
	if err != nil {
		t.Fatal(err)
	}
	call, err := Calldata(cp)
	if err != nil {
		t.Fatal(err)
	}
	if call.Function != "verifyProof(bytes,uint256[5])" || len(call.Input) != 5 {
		t.Fatalf("call %s with %d inputs", call.Function, len(call.Input))
	}
	if !bytes.Equal(call.Calldata[:4], crypto.Keccak256([]byte(call.Function))[:4]) {
		t.Fatal("wrong selector")
	}
	// one commitment: 256 + 2*64 bytes of proof
	if len(call.Proof) != 384 {
		t.Fatalf("solidity proof has %d bytes", len(call.Proof))
	}
	if want := 4 + 32*6 + 32 + 384; len(call.Calldata) != want {
		t.Fatalf("calldata has %d bytes, want %d", len(call.Calldata), want)
	}
	if !bytes.Equal(call.Calldata[len(call.Calldata)-384:], call.Proof) {
		t.Fatal("calldata does not end with the proof")
	}
}
