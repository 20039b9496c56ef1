package server

import (
	"encoding/json"
	"maps"
	"os"
	"slices"
	"testing"

	"github.com/vsc-labs/vsc/coordinator"
	"github.com/vsc-labs/vsc/internal/codes"
	"github.com/vsc-labs/vsc/internal/httpserve"
)

// TestOpenAPIStatesTheLimits: the OpenAPI document states every fixed
// limit and every configured default at its current value, lists every
// error code, and gives every list its limit and cursor parameters.
func TestOpenAPIStatesTheLimits(t *testing.T) {
	t.Parallel()
	var doc struct {
		Limits   map[string]int64   `json:"x-vsc-limits"`
		Defaults map[string]float64 `json:"x-vsc-config-defaults"`
		Paths    map[string]map[string]struct {
			Parameters []struct {
				Name   string `json:"name"`
				Schema struct {
					Maximum   *int64 `json:"maximum"`
					MaxLength *int64 `json:"maxLength"`
				} `json:"schema"`
			} `json:"parameters"`
		} `json:"paths"`
		Components struct {
			Schemas map[string]json.RawMessage `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(openapiDoc, &doc); err != nil {
		t.Fatal(err)
	}
	want := coordinator.LimitTable()
	for name, v := range want {
		if got, ok := doc.Limits[name]; !ok || got != v {
			t.Errorf("x-vsc-limits.%s = %d (stated: %v), the code says %d", name, got, ok, v)
		}
	}
	for name := range doc.Limits {
		if _, ok := want[name]; !ok {
			t.Errorf("x-vsc-limits.%s is stated but is no limit of the code", name)
		}
	}

	var c Config
	c.defaults()
	defaults := map[string]float64{
		"max_blob": float64(c.MaxBlob), "max_stream_blob": float64(c.MaxStreamBlob), "blob_ttl_seconds": c.BlobTTL.Seconds(), "max_pending_blob_bytes": float64(c.MaxPendingBlobBytes),
		"max_pending_blob_bytes_per_client": float64(c.MaxPendingBlobBytesPerClient), "max_inflight_body_bytes": float64(c.MaxInflightBodyBytes),
		"intake_rate": c.IntakeRate, "intake_burst": float64(c.IntakeBurst),
		"http_read_header_timeout_seconds": httpserve.ReadHeaderTimeout.Seconds(), "http_read_timeout_seconds": httpserve.ReadTimeout.Seconds(),
		"http_write_timeout_seconds": httpserve.WriteTimeout.Seconds(), "http_idle_timeout_seconds": httpserve.IdleTimeout.Seconds(),
		"http_max_header_bytes": httpserve.MaxHeaderBytes,
	}
	if !maps.Equal(doc.Defaults, defaults) {
		t.Errorf("x-vsc-config-defaults = %v, the code's defaults are %v", doc.Defaults, defaults)
	}

	var errSchema struct {
		Properties struct {
			Code struct {
				Enum []string `json:"enum"`
			} `json:"code"`
			Number struct {
				Enum []uint16 `json:"enum"`
			} `json:"number"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(doc.Components.Schemas["Error"], &errSchema); err != nil {
		t.Fatal(err)
	}
	var names []string
	var numbers []uint16
	for _, c := range codes.APICodes() {
		names, numbers = append(names, c.Name()), append(numbers, c.Number())
	}
	if got := errSchema.Properties.Code.Enum; !slices.Equal(got, names) {
		t.Errorf("the Error schema lists codes %v, the code table has %v", got, names)
	}
	if got := errSchema.Properties.Number.Enum; !slices.Equal(got, numbers) {
		t.Errorf("the Error schema lists numbers %v, the code table has %v (in the order of the codes)", got, numbers)
	}

	var sub struct {
		Properties struct {
			Submission struct {
				Properties map[string]struct {
					MaxLength *int64 `json:"maxLength"`
					Maximum   *int64 `json:"maximum"`
				} `json:"properties"`
			} `json:"submission"`
			WrappedKey struct {
				MaxLength int64 `json:"maxLength"`
			} `json:"wrapped_key"`
			Signature struct {
				MaxLength int64 `json:"maxLength"`
			} `json:"signature"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(doc.Components.Schemas["SubmitRequest"], &sub); err != nil {
		t.Fatal(err)
	}
	sp := sub.Properties.Submission.Properties
	for field, limit := range map[string]int64{"idao": coordinator.MaxIDAONameBytes, "mode": coordinator.MaxModeBytes, "class": coordinator.MaxClassBytes} {
		if p := sp[field].MaxLength; p == nil || *p != limit {
			t.Errorf("submission.%s maxLength %v, the limit is %d", field, p, limit)
		}
	}
	if p := sp["records"].Maximum; p == nil || *p != coordinator.MaxRecords {
		t.Errorf("submission.records maximum %v, the limit is %d", p, coordinator.MaxRecords)
	}
	if got, want := sub.Properties.WrappedKey.MaxLength, int64(2+2*coordinator.WrappedKeySize); got != want {
		t.Errorf("wrapped_key maxLength %d, want %d (0x and %d bytes in hex)", got, want, coordinator.WrappedKeySize)
	}
	if got, want := sub.Properties.Signature.MaxLength, int64(2+2*coordinator.SignatureSize); got != want {
		t.Errorf("signature maxLength %d, want %d", got, want)
	}

	checkListParams(t, "/v1/idaos", doc.Paths["/v1/idaos"]["get"].Parameters)
}

// checkListParams asserts a list path documents ?limit= up to MaxPageLimit
// and ?cursor=.
func checkListParams[P interface{ ~[]E }, E any](t *testing.T, path string, params P) {
	t.Helper()
	raw, _ := json.Marshal(params)
	var ps []struct {
		Name   string `json:"name"`
		Schema struct {
			Maximum *int64 `json:"maximum"`
		} `json:"schema"`
	}
	_ = json.Unmarshal(raw, &ps)
	var limit, cursor bool
	for _, p := range ps {
		switch p.Name {
		case "limit":
			limit = p.Schema.Maximum != nil && *p.Schema.Maximum == coordinator.MaxPageLimit
		case "cursor":
			cursor = true
		}
	}
	if !limit || !cursor {
		t.Errorf("%s does not document ?limit= (maximum %d) and ?cursor=", path, coordinator.MaxPageLimit)
	}
}

// TestChainOpenAPIListsArePaged: the chain's document pages its lists too.
func TestChainOpenAPIListsArePaged(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../chain/node/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]struct {
			Parameters []json.RawMessage `json:"parameters"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/v1/chain/idaos", "/v1/chain/dat/classes", "/v1/chain/dat/tokens", "/v1/chain/claims", "/v1/chain/dat/classes/{id}/redeems"} {
		checkListParams(t, p, doc.Paths[p]["get"].Parameters)
	}
}
