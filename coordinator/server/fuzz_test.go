package server

import (
	"bytes"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/vsc-labs/vsc/coordinator"
)

// FuzzReadSubmit feeds garbage to the submit decoder (JSON and multipart):
// it never panics, and every refusal is an API error with a code.
func FuzzReadSubmit(f *testing.F) {
	f.Add([]byte(`{"submission":{"idao":"demo"},"signature":"0x00","wrapped_key":"0x01"}`), false)
	f.Add([]byte("--x\r\nContent-Disposition: form-data; name=\"submission\"\r\n\r\n{}\r\n--x--\r\n"), true)
	f.Add([]byte("--x\r\nContent-Disposition: form-data; name=\"blob\"\r\n\r\nAAAA\r\n--x--\r\n"), true)
	f.Add([]byte(`{"submission":`), false)
	s := &Server{cfg: Config{MaxBlob: 1 << 12, ZKChunk: 16}}
	f.Fuzz(func(t *testing.T, body []byte, multipart bool) {
		r := httptest.NewRequest("POST", "/v1/submissions", bytes.NewReader(body))
		if multipart {
			r.Header.Set("Content-Type", "multipart/form-data; boundary=x")
		} else {
			r.Header.Set("Content-Type", "application/json")
		}
		req, _, err := s.readSubmit(r)
		if err != nil {
			var e *coordinator.Error
			if !errors.As(err, &e) || e.Code == "" || e.HTTP < 400 || e.HTTP >= 500 {
				t.Fatalf("refusal %v is not a 4xx API error", err)
			}
			return
		}
		if req == nil {
			t.Fatal("no error and no request")
		}
		_ = s.checkFields(req) // must not panic either
	})
}
