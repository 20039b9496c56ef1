// Command vscd is the vsc daemon: `vscd devnet` runs every role in one
// process; `vscd coordinator|worker|quorum|chain` run one role each for real
// deployments; `vscd bench …` are the project's load generators.
//
// Each role is a service (internal/service): main parses the flags of a
// command, builds its services in order and serves them until SIGINT or
// SIGTERM, which starts the stop: the services stop in reverse order, each
// draining its own work.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/vsc-labs/vsc/internal/cli"
	"github.com/vsc-labs/vsc/internal/service"
)

// drainTimeout bounds how long a stopping process waits for its services
// to drain their in-flight work.
const drainTimeout = 30 * time.Second

func main() { os.Exit(runProcess()) }

// runProcess runs the process's command line until it ends or a signal
// stops it, and returns the exit code.
func runProcess() int {
	// The signal context is the command's start-up context and the signal
	// to stop: no service runs on it (internal/service).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return run(ctx, &cli.Env{Stdout: os.Stdout, Stderr: os.Stderr}, os.Args[1:])
}

// run is the whole daemon's command line, testable end to end: it
// dispatches args through the command table and returns the exit code.
func run(ctx context.Context, env *cli.Env, args []string) int {
	args = cli.JSONGlobal(args, env)
	if len(args) == 0 || args[0] == "help" || args[0] == "--help" || args[0] == "-h" {
		fmt.Fprint(env.Stdout, "vscd — the vsc daemon\n\nusage: vscd COMMAND [flags]\n\n"+cli.Help(commands()))
		return 0
	}
	err := cli.Dispatch(ctx, commands(), env, args)
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, cli.ErrConfigPrinted) {
		return 0
	}
	fmt.Fprintf(env.Stderr, "vscd: %s\n", strings.TrimSpace(err.Error()))
	if errors.Is(err, cli.ErrUsage) {
		return 2
	}
	return 1
}

// logger is the one slog logger a process passes down.
func logger(env *cli.Env, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: l}))
}

// drainContext is the context a stopping process gives its services.
func drainContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), drainTimeout)
}

// stopAfter stops what a failed start-up had started, and returns the
// start-up's error with the stop's.
func stopAfter(err error, l *service.List) error {
	ctx, cancel := drainContext()
	defer cancel()
	return errors.Join(err, l.Stop(ctx))
}
