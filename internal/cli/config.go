package cli

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// MaxConfigBytes bounds a --config file.
const MaxConfigBytes = 1 << 20

// ErrConfigPrinted is what a role's parse returns after --print-config
// printed the effective configuration: the command ends there, exit 0.
var ErrConfigPrinted = errors.New("configuration printed")

// Source says where a flag's effective value came from.
type Source string

// The sources of a value, in precedence order: a flag on the command line
// beats its environment variable, which beats the --config file, which
// beats the built-in default.
const (
	FromFlag    Source = "flag"
	FromEnv     Source = "env"
	FromFile    Source = "file"
	FromDefault Source = "default"
)

// Config is a role's parsed configuration: the positional arguments and
// where every flag's value came from.
type Config struct {
	Args    []string
	File    string            // the --config file read, or ""
	Sources map[string]Source // flag name → where its value came from
}

// envInUsage finds the environment variable a flag's usage names, as
// "(VSC_LISTEN)" or "(DATABASE_URL)".
var envInUsage = regexp.MustCompile(`\(([A-Z][A-Z0-9_]*[A-Z0-9])\)`)

// EnvName is the environment variable of flag f: the one its usage names
// in parentheses, else VSC_ and the flag's name in capitals with - as _
// (--zk-keys: VSC_ZK_KEYS).
func EnvName(f *flag.Flag) string {
	if m := envInUsage.FindStringSubmatch(f.Usage); m != nil {
		return m[1]
	}
	return "VSC_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
}

// ParseConfig parses a role's command line over its flag set fs, adding
// --config FILE (VSC_CONFIG) and --print-config. The file is TOML whose
// keys are the role's flag names (one file per process, flat: `listen =
// ":8080"`, `nats = "nats://a:4222,nats://b:4222"`, `lanes = 4`,
// `block-time = "200ms"`); a list of strings stands for a comma-separated
// value. Precedence: flags > VSC_* env > file > defaults. With
// --print-config it writes the effective configuration (secrets redacted)
// to out as TOML and returns ErrConfigPrinted.
func ParseConfig(fs *flag.FlagSet, env *Env, out io.Writer, args []string) (Config, error) {
	file := fs.String("config", env.Var("VSC_CONFIG", ""), "TOML configuration file; keys are this command's flag names; flags > VSC_* env > file > defaults (VSC_CONFIG)")
	printCfg := fs.Bool("print-config", false, "print the effective configuration (TOML, secrets redacted, each key's source) and exit")
	pos, err := Parse(fs, args)
	if err != nil {
		return Config{}, err
	}
	cfg := Config{Args: pos, File: *file, Sources: map[string]Source{}}
	fromFile := map[string]string{}
	if *file != "" {
		if fromFile, err = loadConfigFile(fs, *file); err != nil {
			return cfg, err
		}
	}
	onLine := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { onLine[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name == "config" || f.Name == "print-config" {
			return
		}
		src, err := settle(fs, env, f, onLine[f.Name], fromFile)
		cfg.Sources[f.Name] = src
		errs = append(errs, err)
	})
	if err := errors.Join(errs...); err != nil {
		return cfg, Usagef("%v", err)
	}
	if *printCfg {
		if err := printConfig(out, fs, cfg); err != nil {
			return cfg, err
		}
		return cfg, ErrConfigPrinted
	}
	return cfg, nil
}

// settle gives flag f its value by precedence and says where it came from.
func settle(fs *flag.FlagSet, env *Env, f *flag.Flag, onLine bool, fromFile map[string]string) (Source, error) {
	if onLine {
		return FromFlag, nil
	}
	name := EnvName(f)
	if v := env.Var(name, ""); v != "" {
		if err := fs.Set(f.Name, v); err != nil {
			return FromEnv, fmt.Errorf("%s=%q (--%s): %v", name, v, f.Name, err)
		}
		return FromEnv, nil
	}
	if v, ok := fromFile[f.Name]; ok {
		if err := fs.Set(f.Name, v); err != nil {
			return FromFile, fmt.Errorf("config key %q = %q: %v", f.Name, v, err)
		}
		return FromFile, nil
	}
	return FromDefault, nil
}

// loadConfigFile reads a TOML config file into flag name → text value,
// refusing keys that are not flags of fs.
func loadConfigFile(fs *flag.FlagSet, path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--config: %w", err)
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, MaxConfigBytes+1))
	if err != nil {
		return nil, fmt.Errorf("--config %s: %w", path, err)
	}
	if len(raw) > MaxConfigBytes {
		return nil, Usagef("--config %s is over %d bytes", path, MaxConfigBytes)
	}
	var doc map[string]any
	if _, err := toml.NewDecoder(bytes.NewReader(raw)).Decode(&doc); err != nil {
		return nil, Usagef("--config %s is not TOML: %v", path, err)
	}
	out := make(map[string]string, len(doc))
	for _, k := range sortedKeys(doc) {
		if fs.Lookup(k) == nil || k == "config" || k == "print-config" {
			return nil, Usagef("--config %s: unknown key %q: the keys are the command's flag names (see --help; `--print-config` prints them all)", path, k)
		}
		v, err := configText(doc[k])
		if err != nil {
			return nil, Usagef("--config %s: key %q: %v", path, k, err)
		}
		out[k] = v
	}
	return out, nil
}

// configText is a TOML value as the text its flag parses.
func configText(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case bool:
		return strconv.FormatBool(v), nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64), nil
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			s, ok := e.(string)
			if !ok {
				return "", fmt.Errorf("a list holds strings only (it stands for a comma-separated value)")
			}
			parts[i] = s
		}
		return strings.Join(parts, ","), nil
	default:
		return "", fmt.Errorf("want a string, number, boolean or list of strings, not %T (the file is flat: no tables)", v)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// printConfig writes the effective configuration as a TOML file that
// --config reads back (unless a secret was redacted), each key with its
// source.
func printConfig(w io.Writer, fs *flag.FlagSet, cfg Config) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# vscd %s: effective configuration (precedence: flags > VSC_* env > file > defaults)\n", fs.Name())
	if cfg.File != "" {
		fmt.Fprintf(&b, "# file: %s\n", cfg.File)
	}
	for _, name := range sortedKeys(cfg.Sources) {
		f := fs.Lookup(name)
		fmt.Fprintf(&b, "%s = %s # %s %s\n", tomlKey(name), tomlValue(f), cfg.Sources[name], EnvName(f))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func tomlKey(k string) string {
	if strings.Trim(k, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") == "" {
		return k
	}
	return strconv.Quote(k)
}

// tomlValue is a flag's value as TOML: booleans and numbers bare, the rest
// (durations too) as strings, secrets redacted.
func tomlValue(f *flag.Flag) string {
	if g, ok := f.Value.(flag.Getter); ok {
		switch v := g.Get().(type) {
		case bool:
			return strconv.FormatBool(v)
		case int, int64, uint, uint64:
			return fmt.Sprint(v)
		case float64:
			return strconv.FormatFloat(v, 'g', -1, 64)
		case time.Duration:
			return strconv.Quote(v.String())
		}
	}
	return strconv.Quote(Redact(f.Name, f.Value.String()))
}

// secretName marks flags whose value itself is a secret (not a path to one).
var secretName = regexp.MustCompile(`(?i)password|secret|token|passphrase`)

// Redact hides the secrets in a flag's value: the whole value of a flag
// named like a secret, and passwords inside URLs (user:password@host,
// ?password=…), in each comma-separated part.
func Redact(name, value string) string {
	if value == "" {
		return value
	}
	if secretName.MatchString(name) {
		return "REDACTED"
	}
	parts := strings.Split(value, ",")
	for i, p := range parts {
		parts[i] = redactURL(p)
	}
	return strings.Join(parts, ",")
}

func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" {
		return s
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "REDACTED")
	}
	q := u.Query()
	changed := false
	for k := range q {
		if secretName.MatchString(k) {
			q.Set(k, "REDACTED")
			changed = true
		}
	}
	if changed {
		u.RawQuery = q.Encode()
	}
	return u.String()
}
