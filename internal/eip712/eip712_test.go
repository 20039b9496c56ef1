package eip712

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/ethereum/go-ethereum/signer/core/apitypes"
)

func sample(chainID uint64) TypedData {
	return TypedData{
		Types: apitypes.Types{
			"EIP712Domain": DomainType,
			"Thing":        {{Name: "n", Type: "uint64"}},
		},
		PrimaryType: "Thing",
		Domain:      Domain(chainID),
		Message:     apitypes.TypedDataMessage{"n": "7"},
	}
}

// The JSON domain holds exactly the fields EIP712Domain lists (no empty
// verifyingContract or salt, which wallets refuse), chainId is a number, and
// the digest read back from that JSON is the fast one.
func TestTypedDataJSONDomainHasOnlySetFields(t *testing.T) {
	t.Parallel()
	td := sample(1337)
	raw, err := json.Marshal(td)
	if err != nil {
		t.Fatal(err)
	}
	var wire struct {
		Types  map[string][]struct{ Name string } `json:"types"`
		Domain map[string]json.RawMessage         `json:"domain"`
	}
	if err := json.Unmarshal(raw, &wire); err != nil {
		t.Fatal(err)
	}
	var keys, listed []string
	for k := range wire.Domain {
		keys = append(keys, k)
	}
	for _, f := range wire.Types["EIP712Domain"] {
		listed = append(listed, f.Name)
	}
	slices.Sort(keys)
	slices.Sort(listed)
	if !slices.Equal(keys, listed) || !slices.Equal(keys, []string{"chainId", "name", "version"}) {
		t.Fatalf("domain keys %v, EIP712Domain lists %v", keys, listed)
	}
	if string(wire.Domain["chainId"]) != "1337" {
		t.Fatalf("chainId %s, want the number 1337", wire.Domain["chainId"])
	}
	var back TypedData
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	a, err := HashTypedData(td)
	if err != nil {
		t.Fatal(err)
	}
	b, err := HashTypedData(back)
	if err != nil || a != b {
		t.Fatalf("digest after a JSON round trip %s, want %s (%v)", b, a, err)
	}
	// the domain separator the fast path uses is the one the generic hash uses
	generic := apitypes.TypedData(td)
	dom, err := generic.HashStruct("EIP712Domain", td.Domain.Map())
	if err != nil || [32]byte(dom) != DomainSeparator(1337) {
		t.Fatalf("domain separator %x, fast %s (%v)", dom, DomainSeparator(1337), err)
	}
}

// A domain whose set fields differ from the listed type is refused.
func TestTypedDataJSONRefusesMismatchedDomain(t *testing.T) {
	t.Parallel()
	td := sample(1)
	td.Domain.VerifyingContract = "0x0000000000000000000000000000000000000001"
	if _, err := json.Marshal(td); err == nil {
		t.Fatal("a set verifyingContract that EIP712Domain does not list was written")
	}
	td = sample(1)
	td.Domain.Version = ""
	if _, err := json.Marshal(td); err == nil {
		t.Fatal("a listed version the domain does not set was written")
	}
}

// A named domain's fast separator is the generic one, differs from the vsc
// domain's, and the vsc domain's is unchanged by the cache it shares.
func TestNamedDomainSeparator(t *testing.T) {
	t.Parallel()
	td := sample(1337)
	td.Domain = NamedDomain("vsc-chain", 1337)
	generic := apitypes.TypedData(td)
	dom, err := generic.HashStruct("EIP712Domain", td.Domain.Map())
	if err != nil || [32]byte(dom) != NamedDomainSeparator("vsc-chain", 1337) {
		t.Fatalf("named separator %x, fast %s (%v)", dom, NamedDomainSeparator("vsc-chain", 1337), err)
	}
	if NamedDomainSeparator("vsc-chain", 1337) == DomainSeparator(1337) || NamedDomainSeparator(Name, 1337) != DomainSeparator(1337) {
		t.Fatal("the named and vsc domains' separators are mixed up")
	}
	vsc := apitypes.TypedData(sample(1337))
	d2, _ := vsc.HashStruct("EIP712Domain", vsc.Domain.Map())
	if [32]byte(d2) != DomainSeparator(1337) {
		t.Fatal("the vsc domain's separator changed")
	}
}
