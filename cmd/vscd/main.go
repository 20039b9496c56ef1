// Command vscd is the vsc daemon: `vscd devnet` runs every role in one
// process; `vscd coordinator|worker|quorum|chain` run one role each for real
// deployments; `vscd bench …` are the project's load generators.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/vsc-labs/vsc/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// legacy is the signature of role commands written as plain functions.
type legacy func(ctx context.Context, args []string, stdout, stderr io.Writer) error

func wrap(f legacy) func(ctx context.Context, env *cli.Env, args []string) error {
	return func(ctx context.Context, env *cli.Env, args []string) error {
		if env.JSON {
			args = append(args, "--json")
		}
		return f(ctx, args, env.Stdout, env.Stderr)
	}
}

// commands lists vscd's subcommands; other areas append to extraCommands.
func commands() []cli.Command {
	cmds := []cli.Command{
		{Name: "devnet", Usage: "[--data DIR] [--listen :8080] [--quorum N] [--lanes N] [--faulty-executor]: every role in one process", Run: wrap(cmdDevnet)},
		{Name: "coordinator", Usage: "--listen :8080 [--chain URL --chain-key FILE --enclave FILE] [--nats URL --nats-creds FILE]: the coordinator role (DATABASE_URL, NATS_URL)", Run: wrap(cmdCoordinator)},
		{Name: "bench intake", Usage: "--submissions N --clients C --json: signed encrypted submissions over HTTP", Run: wrap(cmdBenchIntake)},
	}
	return append(cmds, extraCommands...)
}

var extraCommands []cli.Command

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	env := &cli.Env{Stdout: stdout, Stderr: stderr}
	args = cli.Globals(args, env)
	if len(args) == 0 || args[0] == "help" || args[0] == "--help" || args[0] == "-h" {
		fmt.Fprint(stdout, "vscd — the vsc daemon\n\nusage: vscd COMMAND [flags]\n\n"+cli.Help(commands()))
		return 0
	}
	err := cli.Dispatch(ctx, commands(), env, args)
	if err == nil || errors.Is(err, context.Canceled) {
		return 0
	}
	fmt.Fprintf(stderr, "vscd: %s\n", strings.TrimSpace(err.Error()))
	if errors.Is(err, cli.ErrUsage) {
		return 2
	}
	return 1
}

// logger is the one slog logger a process passes down.
func logger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}

// envOr returns the environment variable or def.
func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
