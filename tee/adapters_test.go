package tee

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestAdapters(t *testing.T) {
	t.Parallel()
	enc := openSim(t, DefaultSimConfig(testRoot))
	other := openSim(t, DefaultSimConfig(testRoot))
	pub, att := enc.PublicKeyBytes(), EncodeAttestation(enc.KeyAttestation())
	dev := devPolicy()
	devJSON, _ := json.Marshal(dev)
	strict := dev
	strict.AllowSimulation = false
	strictJSON, _ := json.Marshal(strict)

	if err := ClientCheck(dev)(pub, att); err != nil {
		t.Fatal(err)
	}
	if err := ClientCheck(dev)(other.PublicKeyBytes(), att); !errors.Is(err, ErrKeyBinding) {
		t.Fatalf("other key: %v", err)
	}
	if err := ClientCheck(dev)(pub, []byte(`{"backend":"sim"}`)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("empty report: %v", err)
	}
	cases := []struct {
		name   string
		reg    KeyRegistry
		policy json.RawMessage
		want   error
	}{
		{"iDAO policy", KeyRegistry{}, devJSON, nil},
		{"strict iDAO policy", KeyRegistry{Default: &dev}, strictJSON, ErrSimulation},
		{"default policy", KeyRegistry{Default: &dev}, nil, nil},
		{"null policy, default", KeyRegistry{Default: &dev}, json.RawMessage("null"), nil},
		{"no policy at all", KeyRegistry{}, nil, ErrPolicy},
		{"bad policy", KeyRegistry{Default: &dev}, json.RawMessage(`{"allow_simulation":true}`), ErrPolicy},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.reg.VerifyEnclaveKey("demo", tc.policy, pub, att)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}
