package optimistic

import (
	"encoding/json"
	"math/big"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

func TestJSONRoundTrip(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(21, 22))
	k := honest(t, randDataset(rng, 20, 2, 0.2))
	bad := liar(k, lieTrace(rng, k, lieGarbage))
	c, err := NewClaim(execAddr, bad.ClaimRequest(subID, k.DS.Fields, k.start.Params, big.NewInt(123456789)), 5, testParams())
	if err != nil {
		t.Fatal(err)
	}
	r, _ := k.ChallengeRequest(c, big.NewInt(777))
	g, err := c.Challenge(chalAddr, r, 6)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(c)
	for _, want := range []string{`"bond":"123456789"`, `"window_ends":15`, `"status":"challenged"`, `"min_claim_bond":"1000"`, `"executor":"0x`} {
		if !strings.Contains(string(b), want) {
			t.Fatalf("claim JSON lacks %s: %s", want, b)
		}
	}
	var c2 Claim
	if err := json.Unmarshal(b, &c2); err != nil || !reflect.DeepEqual(c, &c2) {
		t.Fatalf("claim round trip: %v\n%+v\n%+v", err, c, &c2)
	}
	b, _ = json.Marshal(g)
	var g2 Game
	if err := json.Unmarshal(b, &g2); err != nil || !reflect.DeepEqual(g, &g2) || !strings.Contains(string(b), `"turn":"executor"`) {
		t.Fatalf("game round trip: %v %s", err, b)
	}
	if err := json.Unmarshal([]byte(`{"bond":"-1"}`), &c2); err == nil {
		t.Fatal("negative bond accepted")
	}
}
