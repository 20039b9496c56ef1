// Package natsembed runs nats-server inside a vsc process (the devnet, the
// benchmarks, the tests) and writes a standalone nats-server's
// configuration (`vscd nats config`). It is the only package that links
// nats-server: the roles that merely connect to NATS (workers, members, the
// coordinator) use internal/bus, which links the client alone.
package natsembed

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/vsc-labs/vsc/internal/bus"
)

// Options configures an in-process nats-server.
type Options struct {
	StoreDir string // JetStream store (under the devnet's data dir)
	Listen   string // "" = no socket (in-process clients only); "127.0.0.1:0" = a free port
	// Users are the only ones allowed in, each with its role's permissions
	// (in-process connections authenticate too). Nil runs without
	// authorization, which is refused with a listener.
	Users []bus.User
	// TLS, when set, is required of clients of the listener (in-process
	// connections skip it).
	TLS *tls.Config
	// MaxStore is the JetStream store the streams may reserve (0:
	// bus.StoreBytes(bus.DefaultBlobBytes)), whatever the disk has free when the
	// server starts.
	MaxStore int64
}

// Run starts nats-server with JetStream in this process.
func Run(o Options) (*server.Server, error) {
	opts := &server.Options{
		ServerName: "vsc-embedded",
		JetStream:  true,
		StoreDir:   o.StoreDir,
		NoSigs:     true,
		NoLog:      true,
		MaxPayload: bus.MaxPayload,
		// the streams reserve their MaxBytes: a fixed store makes that
		// independent of the disk's free space at start
		JetStreamMaxStore: o.MaxStore,
	}
	if opts.JetStreamMaxStore == 0 {
		opts.JetStreamMaxStore = bus.StoreBytes(bus.DefaultBlobBytes)
	}
	if o.Users != nil {
		users, err := serverUsers(o.Users)
		if err != nil {
			return nil, err
		}
		opts.Nkeys = users
	}
	if o.Listen == "" {
		opts.DontListen = true
	} else {
		if o.Users == nil {
			return nil, errors.New("embedded NATS with a listener needs users: anyone could connect otherwise")
		}
		host, port, err := net.SplitHostPort(o.Listen)
		if err != nil {
			return nil, fmt.Errorf("nats listen address %q: %w", o.Listen, err)
		}
		opts.Host = host
		if opts.Port, err = strconv.Atoi(port); err != nil {
			return nil, fmt.Errorf("nats listen port %q: %w", port, err)
		}
		if opts.Port == 0 {
			opts.Port = server.RANDOM_PORT
		}
		if o.TLS != nil {
			opts.TLSConfig, opts.TLS = o.TLS, true
			opts.TLSVerify = o.TLS.ClientAuth == tls.RequireAndVerifyClientCert
			opts.TLSTimeout = 5
		}
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(30 * time.Second) {
		srv.Shutdown()
		return nil, fmt.Errorf("embedded nats did not become ready in 30s")
	}
	return srv, nil
}

// RunConfigFile starts nats-server in this process from a configuration
// file (one Render wrote): what `vscd nats serve --config FILE` runs as its
// own process, a real nats-server with JetStream and, with a cluster block,
// one member of a JetStream cluster.
func RunConfigFile(path string) (*server.Server, error) {
	opts, err := server.ProcessConfigFile(path)
	if err != nil {
		return nil, fmt.Errorf("nats config %s: %w", path, err)
	}
	opts.NoSigs = true
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("nats server: %w", err)
	}
	srv.ConfigureLogger()
	go srv.Start()
	if !srv.ReadyForConnections(30 * time.Second) {
		srv.Shutdown()
		return nil, fmt.Errorf("nats server from %s did not become ready in 30s", path)
	}
	return srv, nil
}

// ServerConfig is a standalone nats-server's configuration for vsc: its
// listener, JetStream store, payload limit, optional TLS, and one nkey user
// per role holder with exactly that role's permissions.
type ServerConfig struct {
	Listen   string // host:port
	StoreDir string
	MaxStore int64 // JetStream max_file_store (0: bus.StoreBytes(bus.DefaultBlobBytes))
	Users    []bus.User
	// TLSCert and TLSKey turn TLS on (required of every client); TLSCA makes
	// the server verify client certificates against it too.
	TLSCert, TLSKey, TLSCA string
	// Cluster, when set, makes the server one of a JetStream cluster.
	Cluster *ClusterConfig
}

// ClusterConfig is a server's place in a JetStream cluster: its unique
// name, the cluster's name, its route listener and the routes to the other
// servers (nats-route://host:port). Three servers, and streams with three
// replicas (--nats-replicas 3), survive the loss of any one.
type ClusterConfig struct {
	ServerName, Name, Listen string
	Routes                   []string
}

func (c *ClusterConfig) render(b *strings.Builder) error {
	if c.ServerName == "" || c.Name == "" || c.Listen == "" {
		return errors.New("a cluster member needs its server name, the cluster name and its route listener (--name, --cluster, --cluster-listen)")
	}
	fmt.Fprintf(b, "server_name: %s\n", strconv.Quote(c.ServerName))
	fmt.Fprintf(b, "cluster {\n  name: %s\n  listen: %s\n  routes: %s\n}\n", strconv.Quote(c.Name), strconv.Quote(c.Listen), quoteList(c.Routes, "    "))
	return nil
}

// Render writes the configuration in nats-server's format.
func (c *ServerConfig) Render() ([]byte, error) {
	users, err := serverUsers(c.Users)
	if err != nil {
		return nil, err
	}
	if len(users) == 0 {
		return nil, errors.New("no NATS users: make them with `vscd nats creds` and pass their .pub files")
	}
	if (c.TLSCert == "") != (c.TLSKey == "") || (c.TLSCA != "" && c.TLSCert == "") {
		return nil, errors.New("TLS needs both --tls-cert and --tls-key (and --tls-ca only with them)")
	}
	var b strings.Builder
	b.WriteString("# nats-server configuration for vsc, written by `vscd nats config`.\n")
	b.WriteString("# Every client authenticates with its own nkey; each may publish and\n# subscribe only to what its role needs (docs/NATS.md).\n")
	fmt.Fprintf(&b, "listen: %s\n", strconv.Quote(c.Listen))
	fmt.Fprintf(&b, "max_payload: %d\n", bus.MaxPayload)
	maxStore := c.MaxStore
	if maxStore == 0 {
		maxStore = bus.StoreBytes(bus.DefaultBlobBytes)
	}
	fmt.Fprintf(&b, "jetstream {\n  store_dir: %s\n  max_file_store: %d\n}\n", strconv.Quote(c.StoreDir), maxStore)
	if c.Cluster != nil {
		if err := c.Cluster.render(&b); err != nil {
			return nil, err
		}
	}
	if c.TLSCert != "" {
		fmt.Fprintf(&b, "tls {\n  cert_file: %s\n  key_file: %s\n", strconv.Quote(c.TLSCert), strconv.Quote(c.TLSKey))
		if c.TLSCA != "" {
			fmt.Fprintf(&b, "  ca_file: %s\n  verify: true\n", strconv.Quote(c.TLSCA))
		}
		b.WriteString("}\n")
	}
	b.WriteString("authorization {\n  users: [\n")
	for i, u := range users {
		cu := &c.Users[i]
		roles := make([]string, len(cu.Roles))
		for k, r := range cu.Roles {
			roles[k] = string(r)
		}
		fmt.Fprintf(&b, "    # %s: %s\n", cu.Name, strings.Join(roles, ","))
		fmt.Fprintf(&b, "    {\n      nkey: %s\n      permissions: {\n", strconv.Quote(u.Nkey))
		fmt.Fprintf(&b, "        publish: { allow: %s }\n", quoteList(u.Permissions.Publish.Allow, "          "))
		fmt.Fprintf(&b, "        subscribe: { allow: %s }\n", quoteList(u.Permissions.Subscribe.Allow, "          "))
		b.WriteString("      }\n    }\n")
	}
	b.WriteString("  ]\n}\n")
	return []byte(b.String()), nil
}

// quoteList writes a list of quoted strings, one a line.
func quoteList(ss []string, indent string) string {
	var b strings.Builder
	b.WriteString("[\n")
	for _, s := range ss {
		b.WriteString(indent + strconv.Quote(s) + "\n")
	}
	return b.String() + indent[:len(indent)-2] + "]"
}

// TLSConfig loads a server certificate (and, with ca, the CA client
// certificates must chain to) for an embedded server's listener.
func TLSConfig(cert, key, ca string) (*tls.Config, error) {
	return server.GenTLSConfig(&server.TLSConfigOpts{CertFile: cert, KeyFile: key, CaFile: ca, Verify: ca != ""})
}

// serverUsers is how the server knows vsc's users: each one's nkey with
// exactly its roles' permissions.
func serverUsers(users []bus.User) ([]*server.NkeyUser, error) {
	out := make([]*server.NkeyUser, 0, len(users))
	seen := map[string]bool{}
	for i := range users {
		u := &users[i]
		if err := u.Validate(); err != nil {
			return nil, err
		}
		if seen[u.NKey] {
			return nil, fmt.Errorf("NATS user %s: nkey %s is listed twice", u.Name, u.NKey)
		}
		seen[u.NKey] = true
		p := u.Permissions()
		out = append(out, &server.NkeyUser{Nkey: u.NKey, Permissions: &server.Permissions{
			Publish:   &server.SubjectPermission{Allow: p.Publish},
			Subscribe: &server.SubjectPermission{Allow: p.Subscribe},
		}})
	}
	return out, nil
}
