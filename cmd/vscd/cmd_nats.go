package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/internal/bus"
	"github.com/vsc-labs/vsc/internal/cli"
	"github.com/vsc-labs/vsc/internal/keys"
	"github.com/vsc-labs/vsc/internal/natsembed"
)

// natsFlags adds the flags of every role that connects to NATS.
func natsFlags(fs *flag.FlagSet, env *cli.Env, name string) *bus.ConnectOptions {
	o := &bus.ConnectOptions{Name: name}
	fs.StringVar(&o.URL, "nats", env.Var("NATS_URL", "nats://127.0.0.1:4222"), "NATS server(s) with JetStream, comma-separated (NATS_URL)")
	fs.StringVar(&o.Creds, "nats-creds", env.Var("VSC_NATS_CREDS", ""), "this role's NATS credentials: a user seed file made by `vscd nats creds`, or a JWT .creds file (VSC_NATS_CREDS)")
	fs.StringVar(&o.CA, "nats-ca", env.Var("VSC_NATS_CA", ""), "PEM CA bundle the NATS server's TLS certificate must chain to (VSC_NATS_CA)")
	fs.StringVar(&o.Cert, "nats-cert", env.Var("VSC_NATS_CERT", ""), "client TLS certificate, for a NATS server that verifies clients (VSC_NATS_CERT)")
	fs.StringVar(&o.Key, "nats-key", env.Var("VSC_NATS_KEY", ""), "the client certificate's key (VSC_NATS_KEY)")
	fs.IntVar(&o.Replicas, "nats-replicas", 1, "replicas of the streams and consumers this role creates: 1 for one server, 3 in a JetStream cluster (VSC_NATS_REPLICAS)")
	return o
}

// cmdNATSCreds makes a user nkey for a role holder.
func cmdNATSCreds(ctx context.Context, env *cli.Env, args []string) error {
	fs := flag.NewFlagSet("nats creds", flag.ContinueOnError)
	role := fs.String("role", "", "the roles: coordinator, tee, zk, optimistic, member (comma-separated: `vscd worker --zk` needs tee,zk)")
	member := fs.String("member", "", "with --role member or provider: the member's or the provider's account (0x address, or its key file)")
	name := fs.String("name", "", "the user's name in the server config (default: the file name)")
	out := fs.String("out", "", "where to write the seed (0600); FILE.pub gets the public part")
	force := fs.Bool("force", false, "overwrite FILE")
	if _, err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *out == "" || *role == "" {
		return cli.Usagef("vscd nats creds needs --role ROLE and --out FILE")
	}
	roles, err := bus.ParseRoles(*role)
	if err != nil {
		return cli.Usagef("%v", err)
	}
	var addr common.Address
	switch {
	case *member == "" && slices.Contains(roles, bus.RoleMember):
		return cli.Usagef("--role member needs --member ADDR (or the member's key file): its vote-request queue is named after it")
	case *member != "" && !slices.Contains(roles, bus.RoleMember):
		return cli.Usagef("--member goes with --role member")
	case common.IsHexAddress(*member):
		addr = common.HexToAddress(*member)
	case *member != "":
		k, err := keys.Load(*member)
		if err != nil {
			return fmt.Errorf("--member: %w", err)
		}
		addr = keys.Address(k)
	}
	if *name == "" {
		*name = filepath.Base(*out)
	}
	if _, err := os.Stat(*out); err == nil && !*force {
		return fmt.Errorf("%s exists: pick another --out, or --force to replace it (its user then loses access)", *out)
	}
	c, err := bus.NewCredentials(*name, roles, addr)
	if err != nil {
		return err
	}
	if err := c.WriteFile(*out); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "wrote %s (secret: give it to the role with --nats-creds) and %s.pub (for `vscd nats config`)\npublic key %s\n",
		*out, *out, c.User.NKey)
	return nil
}

// cmdNATSConfig writes a nats-server configuration for a deployment.
func cmdNATSConfig(ctx context.Context, env *cli.Env, args []string) error {
	fs := flag.NewFlagSet("nats config", flag.ContinueOnError)
	out := fs.String("out", "", "where to write the configuration")
	var cfg natsembed.ServerConfig
	fs.StringVar(&cfg.Listen, "listen", "0.0.0.0:4222", "the server's client address")
	fs.StringVar(&cfg.StoreDir, "store", "/var/lib/nats", "JetStream store directory")
	fs.Int64Var(&cfg.MaxStore, "max-store", bus.StoreBytes(bus.DefaultBlobBytes), "JetStream store the streams may reserve, bytes (the coordinator's --nats-blob-bytes plus 1.25 GiB)")
	fs.StringVar(&cfg.TLSCert, "tls-cert", "", "server TLS certificate (TLS then required of every client)")
	fs.StringVar(&cfg.TLSKey, "tls-key", "", "its key")
	fs.StringVar(&cfg.TLSCA, "tls-ca", "", "with --tls-cert: verify client certificates against this CA too")
	var cl natsembed.ClusterConfig
	routes := fs.String("routes", "", "with --cluster: the other servers' route URLs, comma-separated (nats-route://host:6222,…)")
	fs.StringVar(&cl.Name, "cluster", "", "make the server a member of this JetStream cluster (with --name, --cluster-listen and --routes)")
	fs.StringVar(&cl.ServerName, "name", "", "with --cluster: this server's unique name")
	fs.StringVar(&cl.Listen, "cluster-listen", "", "with --cluster: this server's route address (host:port)")
	pubs, err := cli.Parse(fs, args)
	if err != nil {
		return err
	}
	if cl.Name != "" {
		for _, r := range strings.Split(*routes, ",") {
			if r = strings.TrimSpace(r); r != "" {
				cl.Routes = append(cl.Routes, r)
			}
		}
		cfg.Cluster = &cl
	}
	if *out == "" || len(pubs) == 0 {
		return cli.Usagef("vscd nats config needs --out FILE and the users' .pub files (`vscd nats creds` writes them)")
	}
	for _, p := range pubs {
		u, err := bus.ReadUser(p)
		if err != nil {
			return err
		}
		cfg.Users = append(cfg.Users, u)
	}
	raw, err := cfg.Render()
	if err != nil {
		return err
	}
	if err := os.WriteFile(*out, raw, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "wrote %s: %d users; run `nats-server -c %s`\n", *out, len(cfg.Users), *out)
	return nil
}

// cmdNATSServe runs a nats-server from a configuration file (`vscd nats
// config` writes one) as this process, until a signal: the real
// nats-server (the version go.mod pins), with JetStream and, with a
// cluster block, as a member of a JetStream cluster.
func cmdNATSServe(ctx context.Context, env *cli.Env, args []string) error {
	fs := flag.NewFlagSet("nats serve", flag.ContinueOnError)
	path := fs.String("config", "", "the nats-server configuration file")
	if _, err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *path == "" {
		return cli.Usagef("vscd nats serve needs --config FILE (write one with `vscd nats config`)")
	}
	srv, err := natsembed.RunConfigFile(*path)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "nats-server %s listening on %s\n", srv.Name(), srv.ClientURL())
	<-ctx.Done()
	srv.Shutdown()
	srv.WaitForShutdown()
	return nil
}
