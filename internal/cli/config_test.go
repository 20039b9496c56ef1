package cli

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type roleCfg struct {
	Listen, NATS, DB string
	Lanes            int
	BlockTime        time.Duration
	Debug            bool
}

func roleFlags(env *Env) (*flag.FlagSet, *roleCfg) {
	fs := flag.NewFlagSet("testrole", flag.ContinueOnError)
	c := &roleCfg{}
	fs.StringVar(&c.Listen, "listen", env.Var("VSC_LISTEN", ":8080"), "address (VSC_LISTEN)")
	fs.StringVar(&c.NATS, "nats", env.Var("NATS_URL", "nats://127.0.0.1:4222"), "servers (NATS_URL)")
	fs.StringVar(&c.DB, "db", "postgres://127.0.0.1/test", "database (DATABASE_URL)")
	fs.IntVar(&c.Lanes, "lanes", 2, "lanes")
	fs.DurationVar(&c.BlockTime, "block-time", time.Second, "block time")
	fs.BoolVar(&c.Debug, "debug", false, "debug")
	return fs, c
}

func writeFile(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "role.toml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func envOf(m map[string]string) *Env {
	return &Env{Getenv: func(k string) string { return m[k] }}
}

// TestConfigPrecedence pins flags > env > file > defaults, key by key.
func TestConfigPrecedence(t *testing.T) {
	t.Parallel()
	file := writeFile(t, `
listen = ":9000"
nats = ["nats://a:4222", "nats://b:4222"]
lanes = 8
block-time = "250ms"
db = "postgres://file/db"
`)
	env := envOf(map[string]string{"VSC_LANES": "4", "DATABASE_URL": "postgres://env/db"})
	fs, c := roleFlags(env)
	cfg, err := ParseConfig(fs, env, nil, []string{"--config", file, "--listen", ":7000"})
	if err != nil {
		t.Fatal(err)
	}
	want := roleCfg{Listen: ":7000", NATS: "nats://a:4222,nats://b:4222", DB: "postgres://env/db", Lanes: 4, BlockTime: 250 * time.Millisecond}
	if *c != want {
		t.Fatalf("config %+v, want %+v", *c, want)
	}
	for k, src := range map[string]Source{"listen": FromFlag, "lanes": FromEnv, "db": FromEnv, "nats": FromFile, "block-time": FromFile, "debug": FromDefault} {
		if cfg.Sources[k] != src {
			t.Errorf("%s from %s, want %s", k, cfg.Sources[k], src)
		}
	}
}

// TestConfigFileFromEnv: VSC_CONFIG names the file when --config is absent.
func TestConfigFileFromEnv(t *testing.T) {
	t.Parallel()
	env := envOf(map[string]string{"VSC_CONFIG": writeFile(t, "debug = true\n")})
	fs, c := roleFlags(env)
	if _, err := ParseConfig(fs, env, nil, nil); err != nil {
		t.Fatal(err)
	}
	if !c.Debug {
		t.Fatal("debug from VSC_CONFIG's file was not applied")
	}
}

// TestConfigRefusals: every bad file or env value is a usage error naming it.
func TestConfigRefusals(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, file string
		env        map[string]string
		want       string
	}{
		{"unknown key", `lisen = ":1"`, nil, `unknown key "lisen"`},
		{"not toml", `listen = `, nil, "is not TOML"},
		{"table", "[coordinator]\nlisten = \":1\"\n", nil, `unknown key "coordinator"`},
		{"table value", "listen = {a = 1}\n", nil, "no tables"},
		{"bad type in file", `lanes = "many"`, nil, `config key "lanes"`},
		{"bad env", ``, map[string]string{"VSC_LANES": "many"}, "VSC_LANES"},
		{"config key in file", `config = "x"`, nil, `unknown key "config"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			env := envOf(c.env)
			fs, _ := roleFlags(env)
			_, err := ParseConfig(fs, env, nil, []string{"--config", writeFile(t, c.file)})
			if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want a usage error with %q", err, c.want)
			}
		})
	}
}

// TestPrintConfigRoundTrip: --print-config prints every key with its
// source, hides the password, and what it prints reads back as the same
// configuration.
func TestPrintConfigRoundTrip(t *testing.T) {
	t.Parallel()
	env := envOf(map[string]string{"DATABASE_URL": "postgres://vsc:hunter2@db:5432/vsc"})
	fs, _ := roleFlags(env)
	var out strings.Builder
	_, err := ParseConfig(fs, env, &out, []string{"--lanes", "3", "--block-time", "2s", "--print-config"})
	if !errors.Is(err, ErrConfigPrinted) {
		t.Fatalf("err %v, want ErrConfigPrinted", err)
	}
	text := out.String()
	if strings.Contains(text, "hunter2") || !strings.Contains(text, "vsc:REDACTED@db") {
		t.Fatalf("password not redacted:\n%s", text)
	}
	for _, want := range []string{"lanes = 3 # flag", `block-time = "2s" # flag`, `listen = ":8080" # default VSC_LISTEN`} {
		if !strings.Contains(text, want) {
			t.Fatalf("printed config lacks %q:\n%s", want, text)
		}
	}
	empty := envOf(nil)
	fs2, c2 := roleFlags(empty)
	if _, err := ParseConfig(fs2, empty, nil, []string{"--config", writeFile(t, text)}); err != nil {
		t.Fatal(err)
	}
	if c2.Lanes != 3 || c2.BlockTime != 2*time.Second || c2.Listen != ":8080" {
		t.Fatalf("printed config read back as %+v", *c2)
	}
}

func TestRedact(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ name, in, want string }{
		{"db", "postgres://u:pw@h/db", "postgres://u:REDACTED@h/db"},
		{"db", "postgres://h/db?password=pw&sslmode=disable", "postgres://h/db?password=REDACTED&sslmode=disable"},
		{"nats", "nats://a:1,nats://u:p@b:2", "nats://a:1,nats://u:REDACTED@b:2"},
		{"api-token", "abc", "REDACTED"},
		{"key", "/keys/member.key", "/keys/member.key"},
	} {
		if got := Redact(c.name, c.in); got != c.want {
			t.Errorf("Redact(%s, %s) = %s, want %s", c.name, c.in, got, c.want)
		}
	}
}
