package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/vsc-labs/vsc/internal/cli"
)

func TestZKSetupCLI(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var out, errb bytes.Buffer
	env := testEnv(&out, &errb)
	env.JSON = true
	args := []string{"--chunk", "2", "--fields", "2", "--ranges", "0:8,-128:8", "--keys", dir}
	if err := cmdZKSetup(context.Background(), env, args); err != nil {
		t.Fatal(err)
	}
	var first zkKeysResult
	if err := json.Unmarshal(out.Bytes(), &first); err != nil || first.Origin != "dev" || first.Name != "C2xF2-ranged" {
		t.Fatalf("%s: %v", out.String(), err)
	}
	out.Reset()
	if err := cmdZKSetup(context.Background(), env, args); err != nil {
		t.Fatal(err)
	}
	var again zkKeysResult
	if err := json.Unmarshal(out.Bytes(), &again); err != nil || again.VKHash != first.VKHash {
		t.Fatalf("second run made other keys: %s", out.String())
	}
	for _, bad := range [][]string{
		{"--chunk", "3", "--keys", dir},
		{"--fields", "2", "--ranges", "0:8", "--keys", dir},
		{"--fields", "1", "--ranges", "x", "--keys", dir},
	} {
		if err := cmdZKSetup(context.Background(), env, bad); !errors.Is(err, cli.ErrUsage) {
			t.Errorf("%v: %v", bad, err)
		}
	}
	if err := cmdZKImport(context.Background(), env, []string{"--keys", dir}); !errors.Is(err, cli.ErrUsage) {
		t.Errorf("import without files: %v", err)
	}
}
