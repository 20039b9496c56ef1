package work

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/internal/codes"
)

// FuzzDecodeJob: a job message decodes or is refused for good, never
// panics, and a decoded job survives re-encoding.
func FuzzDecodeJob(f *testing.F) {
	good, _ := json.Marshal(Job{ID: "0xab/tee", Kind: "tee", ChainID: 1337, SubmissionID: common.Hash{1}, Signature: []byte{1, 2},
		WrappedKey: []byte{3}, Chunk: 2, Chunks: 4, ChunkSize: 16})
	for _, s := range [][]byte{good, []byte(`{"id":`), []byte(`{"chunk":-1,"chunks":1e9}`), []byte(`[]`), []byte(`{"wrapped_key":"0xzz"}`)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		j, err := DecodeJob(data)
		if err != nil {
			if RefusalCode(err) != codes.UndecodableJob {
				t.Fatalf("refusal without its code: %v", err)
			}
			return
		}
		raw, err := json.Marshal(&j)
		if err != nil {
			t.Fatal(err)
		}
		back, err := DecodeJob(raw)
		if err != nil || !reflect.DeepEqual(normalizeJob(back), normalizeJob(j)) {
			t.Fatalf("re-encoded job differs: %v\n%+v\n%+v", err, back, j)
		}
	})
}

// normalizeJob makes empty and nil byte fields alike (both encode as "0x").
func normalizeJob(j Job) Job {
	for _, b := range []*[]byte{(*[]byte)(&j.Signature), (*[]byte)(&j.WrappedKey)} {
		if len(*b) == 0 {
			*b = nil
		}
	}
	return j
}

// FuzzDecodeResult: a result message decodes or is refused for good, and a
// decoded result's signing digest and dedupe id survive the trip over the
// bus (re-encoding), so a worker's signature still checks on arrival.
func FuzzDecodeResult(f *testing.F) {
	good, _ := json.Marshal(Result{JobID: "j", Kind: "tee", SubmissionID: common.Hash{1}, OK: true,
		Evidence: json.RawMessage(`{"a": [1, 2], "s": "<&>"}`), Signer: common.Address{2}, Signature: []byte{3}})
	for _, s := range [][]byte{good, []byte(`{"kind":"tee","rejected":true}`), []byte(`{"evidence":{"x":"\u2028"}}`),
		[]byte(`{"chunk":1e400}`), []byte(`{"evidence":[1,]`)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := DecodeResult(data)
		if err != nil {
			if RefusalCode(err) != codes.UndecodableResult {
				t.Fatalf("refusal without its code: %v", err)
			}
			return
		}
		raw, err := json.Marshal(&r)
		if err != nil {
			return // evidence that is not JSON cannot be sent at all
		}
		back, err := DecodeResult(raw)
		if err != nil {
			t.Fatalf("a re-encoded result does not decode: %v", err)
		}
		if back.Digest() != r.Digest() || back.MsgID(back.Digest()) != r.MsgID(r.Digest()) {
			t.Fatalf("the digest changed on the wire: %s", raw)
		}
	})
}

// FuzzCanonicalJSON: the fast path of canonicalJSON (input already in
// canonical form) gives what the slow path (Compact, then HTMLEscape) gives.
func FuzzCanonicalJSON(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `{"a": 1}`, `{"a":"<b>"}`, `["\u2028"]`, "[\"\xe2\x80\xa8\"]", `{"a":"x\"y z"}`, `{"a":"\\"}`, `not json`, `{"a" :1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if len(raw) == 0 || !alreadyCanonical(raw) {
			return
		}
		var c, h bytes.Buffer
		if json.Compact(&c, raw) != nil {
			return // not JSON: canonicalJSON returns it unchanged either way
		}
		json.HTMLEscape(&h, c.Bytes())
		if !bytes.Equal(h.Bytes(), raw) {
			t.Fatalf("fast path says %q is canonical; slow path gives %q", raw, h.Bytes())
		}
	})
}
