package codes

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"testing"
)

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

func TestTable(t *testing.T) {
	t.Parallel()
	if len(All()) == 0 {
		t.Fatal("empty table")
	}
	for _, c := range All() {
		e := table[c]
		if !nameRE.MatchString(e.name) || e.sentence == "" || e.http < 400 || e.http > 599 {
			t.Errorf("code %d: name %q, status %d, sentence %q", c, e.name, e.http, e.sentence)
		}
		if back, ok := ByName(c.Name()); !ok || back != c {
			t.Errorf("code %d: ByName(%q) = %d", c, c.Name(), back)
		}
		if lo := uint16(c) / 1000; lo < 1 || lo > 5 {
			t.Errorf("code %d (%s) is outside the ranges 1xxx–5xxx", c, e.name)
		}
	}
}

func TestErrorJSON(t *testing.T) {
	t.Parallel()
	err := fmt.Errorf("wrapped: %w", New(NonceGap, "nonce %d skips ahead; the next is %d", 7, 3))
	if Of(err) != NonceGap || !errors.Is(err, New(NonceGap, "")) || errors.Is(err, New(NonceReplayed, "")) {
		t.Fatalf("Of/Is: %v", err)
	}
	b, _ := json.Marshal(New(NonceGap, "x"))
	var back Error
	if json.Unmarshal(b, &back) != nil || back.Code != NonceGap || back.Message != "x" {
		t.Fatalf("round trip %s → %+v", b, back)
	}
	if json.Unmarshal([]byte(`{"code":"from_the_future","number":4999,"error":"y"}`), &back) != nil || back.Code != 4999 {
		t.Fatalf("unknown code keeps its number: %+v", back)
	}
}
