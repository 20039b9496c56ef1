package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRolesPrintConfig: every role reads --config FILE under its flags and
// VSC_* env, and --print-config prints the result (secrets redacted)
// without starting anything.
func TestRolesPrintConfig(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		role, file string
		args, env  []string
		want       []string
	}{
		{"coordinator", "listen = \":9999\"\nnats = [\"nats://n1:4222\", \"nats://n2:4222\"]\nnats-replicas = 3\n",
			nil, []string{"DATABASE_URL=postgres://vsc:s3cret@db:5432/vsc"},
			[]string{`listen = ":9999" # file`, `nats = "nats://n1:4222,nats://n2:4222" # file NATS_URL`, "nats-replicas = 3 # file", "vsc:REDACTED@db", "# env DATABASE_URL"}},
		{"worker", "tee-backend = \"sim\"\nzk = true\n", []string{"--concurrency", "3"}, []string{"VSC_DATA=/srv/worker"},
			[]string{"zk = true # file", "concurrency = 3 # flag", `data = "/srv/worker" # env VSC_DATA`}},
		{"quorum", "key = \"/keys/member-1.key\"\nidao = \"demo\"\n", nil, nil,
			[]string{`key = "/keys/member-1.key" # file VSC_KEY`, `idao = "demo" # file`}},
		{"chain", "lanes = 4\nblock-time = \"250ms\"\n", nil, []string{"VSC_SEQUENCER_KEY=/keys/seq.key"},
			[]string{"lanes = 4 # file", `block-time = "250ms" # file`, `key = "/keys/seq.key" # env VSC_SEQUENCER_KEY`}},
	} {
		t.Run(c.role, func(t *testing.T) {
			t.Parallel()
			file := filepath.Join(t.TempDir(), c.role+".toml")
			if err := os.WriteFile(file, []byte(c.file), 0o600); err != nil {
				t.Fatal(err)
			}
			var out, errb bytes.Buffer
			args := append([]string{c.role, "--config", file, "--print-config"}, c.args...)
			if code := run(context.Background(), testEnv(&out, &errb, c.env...), args); code != 0 {
				t.Fatalf("exit %d: %s", code, errb.String())
			}
			for _, w := range c.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("printed config lacks %q:\n%s", w, out.String())
				}
			}
			if strings.Contains(out.String(), "s3cret") {
				t.Fatalf("printed a secret:\n%s", out.String())
			}
		})
	}
}

// TestRoleConfigUnknownKey: a misspelt key is refused with its name, exit 2.
func TestRoleConfigUnknownKey(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "c.toml")
	if err := os.WriteFile(file, []byte("lisen = \":1\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := run(context.Background(), testEnv(&out, &errb), []string{"coordinator", "--config", file}); code != 2 || !strings.Contains(errb.String(), `unknown key "lisen"`) {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
}
