package jobreq

import (
	"encoding/json"
	"testing"

	"github.com/ethereum/go-ethereum/crypto"
)

// FuzzAnswer: a saved answer (outside input to `vsc job verify`) never
// panics its checks or its decryption, whatever its bytes.
func FuzzAnswer(f *testing.F) {
	key, _ := crypto.ToECDSA(crypto.Keccak256([]byte("fuzz-app")))
	r := sample()
	sig, _ := r.Sign(1, key)
	ct, _ := Seal(&Payload{Job: r.Digest(1), Columns: []string{"count(*)"}, Rows: [][]string{{"12"}}}, &key.PublicKey)
	good, _ := json.Marshal(&Answer{Job: r.Digest(1), ChainID: 1, Request: *r, Signature: sig, Ciphertext: ct,
		EnclaveKey: crypto.FromECDSAPub(&key.PublicKey), Proof: Proof{Size: 1}})
	f.Add(good)
	f.Add([]byte(`{"proof":{"size":4294967295,"index":7,"path":[]}}`))
	f.Add([]byte(`{"request":{"max_fee":-1}}`))
	f.Add([]byte(`{"request":{"max_fee":1000000000000000000000000000000000000000000000000000000000000000000000000000000000000}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var a Answer
		if json.Unmarshal(b, &a) != nil {
			return
		}
		_, _ = a.Check(crypto.PubkeyToAddress(key.PublicKey))
		_, _ = Open(a.Ciphertext, key)
	})
}
