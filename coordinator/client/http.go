// Package client is the Go SDK for the coordinator's HTTP API. The vsc CLI
// is built on it, and apps import it to submit datasets, follow them, and
// read iDAOs, the chain and DATs.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/vsc-labs/vsc/internal/codes"
	"github.com/vsc-labs/vsc/internal/page"
)

// Client talks to one coordinator.
type Client struct {
	BaseURL string
	HTTP    *http.Client
	// Chain is the chain API's base URL for proven reads (empty: the
	// coordinator's own /v1/chain/, as the devnet serves it).
	Chain string
	// Trust is what Prepare checks chain state and enclaves against.
	Trust Trust
	// PageLimit is the limit the client asks for on every page of a list
	// (0: the server's default); the list methods follow every page.
	PageLimit int
}

// MaxListPages bounds the pages a list method follows, so a server that
// never ends a list cannot make the client loop or fill its memory.
const MaxListPages = 10_000

// New returns a client for baseURL (e.g. http://127.0.0.1:8080).
func New(baseURL string) *Client {
	return &Client{BaseURL: strings.TrimRight(baseURL, "/"), HTTP: &http.Client{Timeout: 5 * time.Minute}}
}

// do sends a request and decodes a JSON answer into out (if non-nil). A
// non-2xx answer becomes a *codes.Error with the server's code and
// sentence (codes.HTTPError for an answer that is no API error).
func (c *Client) do(req *http.Request, out any) (int, error) {
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return 0, fmt.Errorf("cannot reach the coordinator at %s: %w (is `vscd devnet` running? set --api or VSC_API)", c.BaseURL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode >= 300 {
		return resp.StatusCode, apiError(req, resp.StatusCode, body)
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			return resp.StatusCode, fmt.Errorf("decode %s answer: %w", req.URL.Path, err)
		}
	}
	return resp.StatusCode, nil
}

// listAll reads every page of the list at path: each page's items and
// its "next" cursor come from the page type L.
func listAll[L any, T any](ctx context.Context, c *Client, path string, items func(*L) []T, next func(*L) string) ([]T, error) {
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	var out []T
	cursor := ""
	for range MaxListPages {
		l := new(L)
		p := path
		if q := page.Query(c.PageLimit, cursor); q != "" {
			p += sep + q
		}
		if err := c.getJSON(ctx, p, l); err != nil {
			return nil, err
		}
		out = append(out, items(l)...)
		n := next(l)
		if n == "" {
			return out, nil
		}
		if n == cursor {
			return nil, fmt.Errorf("list %s: the server gave the same page cursor twice", path)
		}
		cursor = n
	}
	return nil, fmt.Errorf("list %s: more than %d pages", path, MaxListPages)
}

// get reads the JSON at path into a new T.
func get[T any](ctx context.Context, c *Client, path string) (*T, error) {
	out := new(T)
	return out, c.getJSON(ctx, path, out)
}

func (c *Client) getJSON(ctx context.Context, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.BaseURL+path, nil)
	if err != nil {
		return err
	}
	_, err = c.do(req, out)
	return err
}

func (c *Client) postJSON(ctx context.Context, path string, in, out any) error {
	data, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.BaseURL+path, bytes.NewReader(data))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	_, err = c.do(req, out)
	return err
}

// apiError reads a non-2xx answer: an API error of the table, one whose
// code this build does not know (an UnlistedCodeError), or, for an answer
// that is no API error, codes.HTTPError.
func apiError(req *http.Request, status int, body []byte) error {
	var w struct {
		Code string `json:"code"`
	}
	e := new(codes.Error)
	if json.Unmarshal(body, e) != nil || json.Unmarshal(body, &w) != nil || e.Message == "" {
		return codes.New(codes.HTTPError, "%s %s: HTTP %d: %s", req.Method, req.URL.Path, status, bytes.TrimSpace(body))
	}
	if !e.Code.Known() && w.Code != "" {
		return &UnlistedCodeError{Name: clip(w.Code, maxCodeName), Err: e}
	}
	return e
}

// maxCodeName bounds the code name an UnlistedCodeError keeps from an
// answer.
const maxCodeName = 64

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// UnlistedCodeError is an API error whose code is not in this build's
// table (a newer server's): Name is the code as the server named it; Err
// holds the sentence and the code's number, if the answer gave one.
type UnlistedCodeError struct {
	Name string
	Err  *codes.Error
}

func (e *UnlistedCodeError) Error() string { return e.Err.Message }

// Unwrap returns the error as the table reads it.
func (e *UnlistedCodeError) Unwrap() error { return e.Err }

// ErrorCode is the code's name as the server gave it.
func (e *UnlistedCodeError) ErrorCode() string { return e.Name }

// CodeName is the name of err's code as its source gave it: an API error's,
// an unlisted code's, a trust refusal's; "" for an error without one.
func CodeName(err error) string {
	var u *UnlistedCodeError
	if errors.As(err, &u) {
		return u.Name
	}
	if c := CodeOf(err); c != codes.OK {
		return c.Name()
	}
	return ""
}

// IsCode reports whether err is a refusal with that code: an API error
// (*codes.Error) or a refusal of the client's own trust checks
// (*TrustError).
func IsCode(err error, code codes.Code) bool { return CodeOf(err) == code }

// CodeOf is the code of err: its API error's or trust refusal's, codes.OK
// if it has none.
func CodeOf(err error) codes.Code {
	var te *TrustError
	if errors.As(err, &te) {
		return te.Code
	}
	return codes.Of(err)
}
