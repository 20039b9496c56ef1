package client_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/vsc-labs/vsc/coordinator/client"
	"github.com/vsc-labs/vsc/internal/codes"
)

// The SDK reads an API error's code from the shared table, names an answer
// that is none, and a trust refusal has its code too.
func TestErrorCodes(t *testing.T) {
	answers := map[string]struct {
		status int
		body   string
	}{
		"/v1/submissions/0x01": {404, `{"code":"not_found","number":1017,"error":"no such submission"}`},
		"/v1/idaos/x":          {502, `<html>bad gateway</html>`},
		"/v1/idaos/newer":      {409, `{"code":"from_the_future","number":4999,"error":"a newer server's refusal"}`},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := answers[r.URL.Path]
		w.WriteHeader(a.status)
		_, _ = w.Write([]byte(a.body))
	}))
	defer srv.Close()
	c := client.New(srv.URL)
	ctx := context.Background()
	_, err := c.Status(ctx, "0x01")
	if !client.IsCode(err, codes.NotFound) || err.Error() != "no such submission" {
		t.Fatalf("API error: %v (code %s)", err, client.CodeOf(err))
	}
	_, err = c.IDAO(ctx, "x")
	if !client.IsCode(err, codes.HTTPError) || !strings.Contains(err.Error(), "HTTP 502") {
		t.Fatalf("an answer that is no API error: %v (code %s)", err, client.CodeOf(err))
	}
	_, err = c.IDAO(ctx, "newer")
	var u *client.UnlistedCodeError
	if !errors.As(err, &u) || client.CodeName(err) != "from_the_future" || codes.Of(err) != 4999 || err.Error() != "a newer server's refusal" {
		t.Fatalf("a code this build does not know: %v (named %q, number %d)", err, client.CodeName(err), codes.Of(err))
	}
	_, err = c.ProvenIDAO(ctx, "x", nil) // no trusted sequencer
	if !client.IsCode(err, codes.NoTrustedSequencer) || client.IsCode(err, codes.NotFound) || client.CodeName(err) != "no_trusted_sequencer" {
		t.Fatalf("trust refusal: %v (code %s)", err, client.CodeOf(err))
	}
}
