package natsembed

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/vsc-labs/vsc/internal/bus"
)

func TestNoCredentialsNoEntry(t *testing.T) {
	c, err := bus.NewCredentials("coordinator", []bus.Role{bus.RoleCoordinator}, common.Address{})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := Run(Options{StoreDir: t.TempDir(), Listen: "127.0.0.1:0", Users: []bus.User{c.User}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	url := srv.ClientURL()
	if nc, err := nats.Connect(url); err == nil || !strings.Contains(err.Error(), "Authorization Violation") {
		if nc != nil {
			nc.Close()
		}
		t.Fatalf("connect without credentials: %v", err)
	}
	stranger, _ := nkeys.CreateUser()
	pub, _ := stranger.PublicKey()
	if nc, err := nats.Connect(url, nats.Nkey(pub, stranger.Sign)); err == nil || !strings.Contains(err.Error(), "Authorization Violation") {
		if nc != nil {
			nc.Close()
		}
		t.Fatalf("a key the server does not know: %v", err)
	}
	if _, err := Run(Options{StoreDir: t.TempDir(), Listen: "127.0.0.1:0"}); err == nil {
		t.Fatal("an embedded server with a listener and no users started")
	}
}

func TestServerConfigRoundTrip(t *testing.T) {
	var users []bus.User
	for _, roles := range [][]bus.Role{{bus.RoleCoordinator}, {bus.RoleTEE, bus.RoleZK}, {bus.RoleMember}} {
		c, err := bus.NewCredentials(string(roles[0]), roles, common.HexToAddress("0x1234"))
		if err != nil {
			t.Fatal(err)
		}
		users = append(users, c.User)
	}
	dir := t.TempDir()
	cfg := ServerConfig{Listen: "127.0.0.1:4222", StoreDir: dir, Users: users}
	raw, err := cfg.Render()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "nats.conf")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	opts, err := server.ProcessConfigFile(path)
	if err != nil {
		t.Fatalf("nats-server does not read the config: %v\n%s", err, raw)
	}
	want, _ := serverUsers(users)
	if len(opts.Nkeys) != len(want) || opts.MaxPayload != bus.MaxPayload || !opts.JetStream || opts.StoreDir != dir ||
		opts.JetStreamMaxStore != bus.StoreBytes(bus.DefaultBlobBytes) {
		t.Fatalf("parsed %d users, payload %d, jetstream %v", len(opts.Nkeys), opts.MaxPayload, opts.JetStream)
	}
	for i, u := range opts.Nkeys {
		if u.Nkey != want[i].Nkey || !slices.Equal(u.Permissions.Publish.Allow, want[i].Permissions.Publish.Allow) ||
			!slices.Equal(u.Permissions.Subscribe.Allow, want[i].Permissions.Subscribe.Allow) {
			t.Fatalf("user %d parsed as %+v", i, u)
		}
	}
	if _, err := (&ServerConfig{Listen: ":1", StoreDir: dir}).Render(); err == nil {
		t.Fatal("a config without users rendered")
	}
}

// The devnet's listener can require TLS; clients give the CA (and a
// client certificate when the server verifies them).
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	caFile, certFile, keyFile := selfSigned(t, dir)
	c, _ := bus.NewCredentials("coordinator", []bus.Role{bus.RoleCoordinator}, common.Address{})
	credsFile := filepath.Join(dir, "c.creds")
	if err := c.WriteFile(credsFile); err != nil {
		t.Fatal(err)
	}
	tlsc, err := TLSConfig(certFile, keyFile, "")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := Run(Options{StoreDir: t.TempDir(), Listen: "127.0.0.1:0", Users: []bus.User{c.User}, TLS: tlsc})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	url := strings.Replace(srv.ClientURL(), "nats://", "tls://", 1)
	b, err := bus.Connect(bus.ConnectOptions{URL: url, Creds: credsFile, CA: caFile}, bus.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Ensure(ctx); err != nil {
		t.Fatalf("over TLS: %v", err)
	}
	// a client that does not trust the server's certificate gets nowhere
	nc, err := nats.Connect(url, nats.Timeout(2*time.Second))
	if err == nil {
		nc.Close()
		t.Fatal("connected without the CA")
	}
}

// selfSigned writes a CA-signed certificate for 127.0.0.1.
func selfSigned(t *testing.T, dir string) (ca, cert, key string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "vsc test CA"}, IsCA: true,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	srvKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(srvKey)
	write := func(name, typ string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return write("ca.pem", "CERTIFICATE", caDER), write("cert.pem", "CERTIFICATE", der), write("key.pem", "EC PRIVATE KEY", keyDER)
}

// A server Run makes enforces each user's roles, takes vsc's largest
// message and reserves the streams' store (the bus's tests run their own
// server with the same settings).
func TestRunEnforcesRoles(t *testing.T) {
	users := map[string]*bus.Credentials{}
	var list []bus.User
	for name, role := range map[string]bus.Role{"coordinator": bus.RoleCoordinator, "tee": bus.RoleTEE} {
		c, err := bus.NewCredentials(name, []bus.Role{role}, common.Address{})
		if err != nil {
			t.Fatal(err)
		}
		users[name], list = c, append(list, c.User)
	}
	srv, err := Run(Options{StoreDir: t.TempDir(), Users: list})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	if got := srv.JetStreamConfig().MaxStore; got != bus.StoreBytes(bus.DefaultBlobBytes) {
		t.Fatalf("JetStream store %d, want %d", got, bus.StoreBytes(bus.DefaultBlobBytes))
	}
	ctx := context.Background()
	worker, err := bus.ConnectInProcess(srv, users["tee"], bus.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer worker.Close()
	if got := worker.NC.MaxPayload(); got != bus.MaxPayload {
		t.Fatalf("max payload %d, want %d", got, bus.MaxPayload)
	}
	wctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if err := worker.Ensure(wctx); err == nil {
		t.Fatal("a TEE worker made the streams")
	}
	coord, err := bus.ConnectInProcess(srv, users["coordinator"], bus.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer coord.Close()
	if err := coord.Ensure(ctx); err != nil {
		t.Fatalf("the coordinator cannot make the streams: %v", err)
	}
}
