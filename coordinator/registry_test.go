package coordinator

import (
	"encoding/json"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/idao"
)

// The API's policy_config is what it was when it was built as a map (the
// keys sorted, price a decimal string, tee_policy only when set), and it
// reads back as the policy it came from.
func TestPolicyConfigEncoding(t *testing.T) {
	for _, p := range []idao.Policy{
		{Modes: []idao.Mode{idao.ModeTEE}, Price: big.NewInt(0)},
		{Modes: []idao.Mode{idao.ModeTEEZK}, Price: big.NewInt(12345), TEEPolicy: json.RawMessage(`{"unique_id": "ab", "allow_simulation": true}`),
			VKHash: common.Hash{7}, UnstakeDelay: 3600},
	} {
		old := map[string]any{"vk_hash": p.VKHash, "unstake_delay": p.UnstakeDelay, "price": p.Price.String()}
		if len(p.TEEPolicy) > 0 {
			old["tee_policy"] = p.TEEPolicy
		}
		want, _ := json.Marshal(old)
		c := NewPolicyConfig(&p)
		got, err := json.Marshal(c)
		if err != nil || string(got) != string(want) {
			t.Fatalf("policy_config %s, was %s (%v)", got, want, err)
		}
		back, err := c.Policy(p.Modes)
		if err != nil || back.Price.Cmp(p.Price) != 0 || back.VKHash != p.VKHash || back.UnstakeDelay != p.UnstakeDelay ||
			string(back.TEEPolicy) != string(p.TEEPolicy) || c.Empty() {
			t.Fatalf("read back %+v: %v", back, err)
		}
	}
	empty := NewPolicyConfig(&idao.Policy{Modes: []idao.Mode{idao.ModeZK}})
	if !empty.Empty() {
		t.Fatalf("a policy without details has %+v", empty)
	}
	bad := "1e9"
	if _, err := (&PolicyConfig{Price: &bad}).Policy(nil); err == nil {
		t.Fatal("a price that is no decimal amount read back")
	}
}
