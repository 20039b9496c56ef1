package query

import (
	"encoding/hex"
	"encoding/json"
	"testing"

	"github.com/ethereum/go-ethereum/crypto"
)

func TestResultEncoding(t *testing.T) {
	t.Parallel()
	r := &Result{Columns: []string{"g", "count(*)"}, Rows: [][]string{{"1", "10"}}, SuppressedGroups: 2}
	want := hex.EncodeToString([]byte("vsc-query-result-v1")) +
		"00000002" + "00000001" + hex.EncodeToString([]byte("g")) + "00000008" + hex.EncodeToString([]byte("count(*)")) +
		"00000001" + "00000002" + "00000001" + "31" + "00000002" + "3130" +
		"0000000000000002" + "00"
	if got := hex.EncodeToString(r.Encode()); got != want {
		t.Fatalf("encoding\n got %s\nwant %s", got, want)
	}
	if r.Hash() != crypto.Keccak256Hash(r.Encode()) {
		t.Fatal("Hash is not keccak256 of Encode")
	}
	// every part of the result moves the hash, and no two shapes collide
	variants := []*Result{
		r,
		{Columns: []string{"g", "count(*)"}, Rows: [][]string{{"1", "11"}}, SuppressedGroups: 2},
		{Columns: []string{"g", "count(*)"}, Rows: [][]string{{"1", "10"}}, SuppressedGroups: 3},
		{Columns: []string{"g", "count(*)"}, Rows: [][]string{{"11", "0"}}, SuppressedGroups: 2},
		{Columns: []string{"g", "count(*)"}, Rows: [][]string{{"1"}, {"10"}}, SuppressedGroups: 2},
		{Columns: []string{"g", "count(*)"}, Rows: [][]string{}, SuppressedGroups: 0},
		{Columns: []string{"g", "count(*)"}, Rows: [][]string{}, BelowFloor: true},
		{Columns: []string{"gcount(*)"}, Rows: [][]string{{"1", "10"}}, SuppressedGroups: 2},
	}
	seen := map[string]int{}
	for i, v := range variants {
		h := v.Hash().Hex()
		if j, dup := seen[h]; dup {
			t.Errorf("variants %d and %d hash alike", j, i)
		}
		seen[h] = i
	}
	// JSON carries the result exactly, and the hash survives a round trip
	b, _ := json.Marshal(r)
	if string(b) != `{"columns":["g","count(*)"],"rows":[["1","10"]],"suppressed_groups":2}` {
		t.Fatalf("json %s", b)
	}
	var back Result
	if err := json.Unmarshal(b, &back); err != nil || back.Hash() != r.Hash() {
		t.Fatalf("round trip: %v", err)
	}
}

func TestQueryHash(t *testing.T) {
	t.Parallel()
	const text = "SELECT count(*)"
	if QueryHash(text) != crypto.Keccak256Hash([]byte(text)) || QueryHash(text) == QueryHash("select count(*)") {
		t.Fatal("QueryHash is not keccak256 of the exact text")
	}
}
