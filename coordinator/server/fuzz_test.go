package server

import (
	"bytes"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/vsc-labs/vsc/coordinator"
	"github.com/vsc-labs/vsc/internal/codes"
)

// FuzzReadSubmit feeds garbage to the submit decoder (JSON and multipart):
// it never panics, every refusal is an API error with a 4xx code, and a
// request it accepts has every field within its limit.
func FuzzReadSubmit(f *testing.F) {
	f.Add([]byte(`{"submission":{"idao":"demo"},"signature":"0x00","wrapped_key":"0x01"}`), false)
	f.Add([]byte(`{"submission":{"idao":"demo","mode":"zk","class":"dataset","records":18446744073709551615}}`), false)
	f.Add([]byte(`{"submission":{}} {"again":1}`), false)
	f.Add([]byte("--x\r\nContent-Disposition: form-data; name=\"submission\"\r\n\r\n{}\r\n--x--\r\n"), true)
	f.Add([]byte("--x\r\nContent-Disposition: form-data; name=\"blob\"\r\n\r\nAAAA\r\n--x--\r\n"), true)
	f.Add([]byte("--x\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nAAAA\r\n--x--\r\n"), true)
	f.Add([]byte("--x\r\nContent-Disposition: form-data; name=\"blob\"\r\n\r\nA\r\n--x\r\nContent-Disposition: form-data; name=\"blob\"\r\n\r\nB\r\n--x--\r\n"), true)
	f.Add([]byte(`{"submission":`), false)
	s := &Server{cfg: Config{MaxBlob: 1 << 12, ZKChunk: 16}}
	f.Fuzz(func(t *testing.T, body []byte, multipart bool) {
		r := httptest.NewRequest("POST", "/v1/submissions", bytes.NewReader(body))
		if multipart {
			r.Header.Set("Content-Type", "multipart/form-data; boundary=x")
		} else {
			r.Header.Set("Content-Type", "application/json")
		}
		req, blob, err := s.readSubmit(r)
		if err != nil {
			var e *codes.Error
			if !errors.As(err, &e) || !e.Code.Known() || e.Code.HTTP() < 400 || e.Code.HTTP() >= 500 {
				t.Fatalf("refusal %v is not a 4xx API error", err)
			}
			return
		}
		if req == nil {
			t.Fatal("no error and no request")
		}
		if int64(len(blob)) > s.cfg.MaxBlob {
			t.Fatalf("a blob of %d bytes passed the %d-byte limit", len(blob), s.cfg.MaxBlob)
		}
		sub := &req.Submission
		switch {
		case len(sub.IDAO) > coordinator.MaxIDAONameBytes, len(sub.Mode) > coordinator.MaxModeBytes, len(sub.Class) > coordinator.MaxClassBytes,
			len(req.Signature) != coordinator.SignatureSize, len(req.WrappedKey) != coordinator.WrappedKeySize,
			sub.Records == 0, sub.Records > coordinator.MaxRecords,
			jobCount(sub.Mode, sub.Records, s.cfg.ZKChunk) > coordinator.MaxJobsPerSubmission:
			t.Fatalf("readSubmit accepted a request over a limit: %+v", req)
		}
	})
}
