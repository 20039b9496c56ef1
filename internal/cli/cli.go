// Package cli holds what vsc and vscd share for their command lines: one
// table of commands per binary (Command, Dispatch, Help), flag parsing that
// allows flags after positional arguments, JSON output, the environment a
// command reads its defaults from, and the one-line error convention (what
// was wrong, and what to do).
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// Env is what every command gets.
type Env struct {
	Stdout, Stderr io.Writer
	JSON           bool   // --json: one JSON object on stdout, nothing else
	API            string // --api (vsc only; vscd commands that take one parse it themselves)
	// Getenv reads an environment variable (nil: the process's, os.Getenv).
	// Tests give their own, so they run in parallel without t.Setenv.
	Getenv func(name string) string
}

// Var is the environment variable name, or def when it is unset or empty.
func (e *Env) Var(name, def string) string {
	get := e.Getenv
	if get == nil {
		get = os.Getenv
	}
	if v := get(name); v != "" {
		return v
	}
	return def
}

// Int is the environment variable name as an integer, or def.
func (e *Env) Int(name string, def int) int {
	if v, err := strconv.Atoi(e.Var(name, "")); err == nil {
		return v
	}
	return def
}

// Float is the environment variable name as a float, or def.
func (e *Env) Float(name string, def float64) float64 {
	if v, err := strconv.ParseFloat(e.Var(name, ""), 64); err == nil {
		return v
	}
	return def
}

// Func is what a command runs: args are what follows its name on the
// command line, global flags removed.
type Func func(ctx context.Context, env *Env, args []string) error

// Command is one subcommand, a row of its binary's command table.
type Command struct {
	Name  string // "submit", or "dat buy" for nested commands
	Usage string
	Run   Func
}

// ErrUsage marks a usage error (exit code 2).
var ErrUsage = errors.New("usage")

// Usagef returns a usage error with a message.
func Usagef(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUsage, fmt.Sprintf(format, args...))
}

// Parse parses args with fs, allowing flags anywhere (after positional
// arguments too), and returns the positional arguments.
func Parse(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, Usagef("%s", usage(fs))
			}
			return nil, Usagef("%v\n%s", err, usage(fs))
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if rest[0] == "--" {
			return append(pos, rest[1:]...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

func usage(fs *flag.FlagSet) string {
	var b strings.Builder
	fs.SetOutput(&b)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
	return "flags:\n" + b.String()
}

// Globals strips --api URL / --api=URL / --json from anywhere in args (vsc).
func Globals(args []string, env *Env) []string { return globals(args, env, true) }

// JSONGlobal strips --json from anywhere in args (vscd, whose commands that
// take an --api parse it themselves).
func JSONGlobal(args []string, env *Env) []string { return globals(args, env, false) }

func globals(args []string, env *Env, api bool) []string {
	out := args[:0:0]
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--json" || a == "-json":
			env.JSON = true
		case strings.HasPrefix(a, "--json=") || strings.HasPrefix(a, "-json="):
			v, err := strconv.ParseBool(a[strings.Index(a, "=")+1:])
			if err != nil {
				out = append(out, a) // left for the command's parser to refuse
				continue
			}
			env.JSON = v
		case !api:
			out = append(out, a)
		case (a == "--api" || a == "-api") && i+1 < len(args):
			env.API = args[i+1]
			i++
		case strings.HasPrefix(a, "--api="):
			env.API = strings.TrimPrefix(a, "--api=")
		default:
			out = append(out, a)
		}
	}
	return out
}

// Print writes v as JSON (with --json) or calls human to write text.
func (e *Env) Print(v any, human func(w io.Writer)) error {
	if e.JSON {
		enc := json.NewEncoder(e.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	human(e.Stdout)
	return nil
}

// Progress writes a progress line to stderr (never stdout, so --json stays clean).
func (e *Env) Progress(format string, args ...any) {
	fmt.Fprintf(e.Stderr, format+"\n", args...)
}

// Dispatch finds the longest matching command name in args and runs it.
func Dispatch(ctx context.Context, cmds []Command, env *Env, args []string) error {
	var best *Command
	bestLen := 0
	for i := range cmds {
		words := strings.Fields(cmds[i].Name)
		if len(words) <= len(args) && len(words) > bestLen && strings.Join(args[:len(words)], " ") == cmds[i].Name {
			best, bestLen = &cmds[i], len(words)
		}
	}
	if best == nil {
		return Usagef("unknown command %q\n%s", strings.Join(args, " "), Help(cmds))
	}
	return best.Run(ctx, env, args[bestLen:])
}

// Help lists the commands.
func Help(cmds []Command) string {
	var b strings.Builder
	b.WriteString("commands:\n")
	for _, c := range cmds {
		fmt.Fprintf(&b, "  %-16s %s\n", c.Name, c.Usage)
	}
	return b.String()
}
