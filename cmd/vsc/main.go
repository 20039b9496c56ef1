// Command vsc is the vsc client: keys, submissions, iDAOs, DATs, claims and
// chain reads. It talks to the coordinator over HTTP only, through the Go
// SDK in coordinator/client.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/vsc-labs/vsc/coordinator/client"
	"github.com/vsc-labs/vsc/internal/cli"
	"github.com/vsc-labs/vsc/internal/codes"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the whole CLI, testable end to end.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	env := &cli.Env{Stdout: stdout, Stderr: stderr, API: os.Getenv("VSC_API")}
	args = cli.Globals(args, env)
	if env.API == "" {
		env.API = "http://127.0.0.1:8080"
	}
	if len(args) == 0 || args[0] == "help" || args[0] == "--help" || args[0] == "-h" {
		fmt.Fprint(stdout, "vsc — the Verifiable Service Coordinator client\n\nusage: vsc COMMAND [flags] [--api URL] [--json]\n\n"+cli.Help(commands()))
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
	fmt.Fprintf(stderr, "vsc: %s\n", msg)
	if errors.Is(err, cli.ErrUsage) {
		return 2
	}
	return 1
}

func commands() []cli.Command {
	cmds := []cli.Command{
		{Name: "key new", Usage: "--out FILE: make a new secp256k1 key", Run: keyNew},
		{Name: "key show", Usage: "FILE: print the key's address", Run: keyShow},
		{Name: "submit", Usage: "FILE --idao NAME [--mode M] [--class C] --key FILE [--wait] [--allow-simulation] [--sequencer ADDR] [--chain URL] [--tee-policy FILE] | --prepare OUT --from ADDR | --prepared F --signature 0x…: the iDAO's TEE policy and enclave key are read from chain state proven under the sequencer's signature", Run: submit},
		{Name: "status", Usage: "ID: a submission's state, evidence, votes, anchor, DAT", Run: status},
		{Name: "idao list", Usage: "iDAOs and their policy, members, stake", Run: idaoList},
		{Name: "idao show", Usage: "NAME: one iDAO", Run: idaoShow},
	}
	return append(cmds, extraCommands...)
}

// extraCommands are registered by the files of other areas (chain, dat, zk).
var extraCommands []cli.Command
