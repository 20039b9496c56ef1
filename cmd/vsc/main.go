// Command vsc is the vsc client: keys, submissions, iDAOs, DATs, claims and
// chain reads. It talks to the coordinator over HTTP only, through the Go
// SDK in coordinator/client.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/vsc-labs/vsc/coordinator/client"
	"github.com/vsc-labs/vsc/internal/cli"
	"github.com/vsc-labs/vsc/internal/codes"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, &cli.Env{Stdout: os.Stdout, Stderr: os.Stderr}, os.Args[1:])
	stop()
	os.Exit(code)
}

// run is the whole CLI, testable end to end: it reads the global flags
// (--api, default VSC_API; --json), dispatches through the command table
// and returns the exit code.
func run(ctx context.Context, env *cli.Env, args []string) int {
	env.API = env.Var("VSC_API", "")
	args = cli.Globals(args, env)
	if env.API == "" {
		env.API = "http://127.0.0.1:8080"
	}
	if len(args) == 0 || args[0] == "help" || args[0] == "--help" || args[0] == "-h" {
		fmt.Fprint(env.Stdout, "vsc — the Verifiable Service Coordinator client\n\nusage: vsc COMMAND [flags] [--api URL] [--json]\n\n"+cli.Help(commands()))
		return 0
	}
	err := cli.Dispatch(ctx, commands(), env, args)
	if err == nil {
		return 0
	}
	msg := err.Error()
	var ae *codes.Error
	if errors.As(err, &ae) {
		msg = ae.Message
		if name := client.CodeName(err); name != "" {
			msg = fmt.Sprintf("%s (%s)", ae.Message, name)
		}
	}
	fmt.Fprintf(env.Stderr, "vsc: %s\n", msg)
	if errors.Is(err, cli.ErrUsage) {
		return 2
	}
	return 1
}
