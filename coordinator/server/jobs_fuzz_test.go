package server

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/vsc-labs/vsc/coordinator"
	"github.com/vsc-labs/vsc/internal/codes"
)

// FuzzJobRequest feeds garbage job requests to the checks that need no
// state: they never panic, every refusal is a 4xx API error, and a
// request they pass is within every limit.
func FuzzJobRequest(f *testing.F) {
	f.Add([]byte(`{"request":{"units":1,"max_fee":2},"signature":"0x00","query":"SELECT count(*)"}`))
	f.Add([]byte(`{"request":{"units":18446744073709551615,"max_fee":1e400},"query":""}`))
	f.Add([]byte(`{"request":{"max_fee":-5},"signature":"0x` + string(make([]byte, 0)) + `"}`))
	f.Add([]byte(`{"query":"SELECT temp"}`))
	f.Add([]byte(`{"request":{"units":1,"max_fee":2},"signature":"0x00","query":"SELECT count(*)","answer_key":{"key":"0x02","signature":"0x"}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var b coordinator.JobRequestBody
		if json.Unmarshal(body, &b) != nil {
			return
		}
		_, err := checkJobFields(1337, &b)
		if err != nil {
			var e *codes.Error
			if !errors.As(err, &e) || !e.Code.Known() || e.Code.HTTP() < 400 || e.Code.HTTP() >= 500 {
				t.Fatalf("refusal %v is not a 4xx API error", err)
			}
			return
		}
		if len(b.Query) > coordinator.MaxQueryBytes || b.Request.Units == 0 || b.Request.MaxFee.BitLen() > 256 ||
			(b.AnswerKey != nil && (len(b.AnswerKey.Key) != coordinator.AnswerKeySize || len(b.AnswerKey.Signature) != coordinator.SignatureSize)) {
			t.Fatalf("a request over a limit passed: %+v", b.Request)
		}
	})
}
