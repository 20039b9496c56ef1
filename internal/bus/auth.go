package bus

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ethereum/go-ethereum/common"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/internal/work"
)

// Role is what a NATS user may do on the bus. A user holds one or more
// roles (`vscd worker --zk` runs a TEE worker and a prover on one
// connection); its permissions are the union of its roles'.
type Role string

// The roles. Outsiders hold none: the server refuses any connection
// without a user's credentials.
const (
	// RoleCoordinator creates the streams and buckets, publishes jobs,
	// vote requests and blobs, and consumes results.
	RoleCoordinator Role = "coordinator"
	// RoleTEE consumes tee jobs, reads blobs and publishes tee results.
	RoleTEE Role = Role(idao.KindTEE)
	// RoleZK consumes zk jobs, reads blobs, writes proofs and publishes zk results.
	RoleZK Role = Role(idao.KindZK)
	// RoleOptimistic consumes optimistic jobs, reads blobs and publishes
	// optimistic results (the executor and its watcher).
	RoleOptimistic Role = Role(idao.KindOptimistic)
	// RoleMember reads its own vote-request consumer (created by itself,
	// named after its account) and proofs, and publishes votes.
	RoleMember Role = "member"
	// RoleProvider reads its own query-job consumer (created by itself,
	// named after its provider account), reads blobs and publishes its
	// answers.
	RoleProvider Role = "provider"
)

// Roles lists every role, in the order the docs use.
var Roles = []Role{RoleCoordinator, RoleTEE, RoleZK, RoleOptimistic, RoleMember, RoleProvider}

// ParseRoles parses a comma-separated role list ("tee,zk").
func ParseRoles(s string) ([]Role, error) {
	var out []Role
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		r := Role(f)
		if !slices.Contains(Roles, r) {
			return nil, fmt.Errorf("unknown NATS role %q: want one of coordinator, tee, zk, optimistic, member, provider", f)
		}
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no NATS role given: want one or more of coordinator, tee, zk, optimistic, member, provider")
	}
	return out, nil
}

// User is the public half of a NATS user: what a server needs to know to
// authenticate it and what it may do. It holds no secret.
type User struct {
	Name  string `json:"name"`
	Roles []Role `json:"roles"`
	// Member is the member's chain account, for RoleMember: its
	// vote-request consumer is named after it.
	Member common.Address `json:"member,omitempty"`
	// Provider is the provider's chain account, for RoleProvider: its
	// query-job consumer and answer subject are named after it.
	Provider common.Address `json:"provider,omitempty"`
	// NKey is the user's public nkey (U…); it signs the server's nonce.
	NKey string `json:"nkey"`
}

// Validate checks the user can be configured.
func (u *User) Validate() error {
	if u.Name == "" {
		return errors.New("NATS user has no name")
	}
	if !nkeys.IsValidPublicUserKey(u.NKey) {
		return fmt.Errorf("NATS user %s: %q is not a public user nkey (U…)", u.Name, u.NKey)
	}
	if len(u.Roles) == 0 {
		return fmt.Errorf("NATS user %s has no role", u.Name)
	}
	for _, r := range u.Roles {
		if !slices.Contains(Roles, r) {
			return fmt.Errorf("NATS user %s: unknown role %q", u.Name, r)
		}
	}
	if slices.Contains(u.Roles, RoleMember) && u.Member == (common.Address{}) {
		return fmt.Errorf("NATS user %s has the member role but no member account (--member)", u.Name)
	}
	if slices.Contains(u.Roles, RoleProvider) && u.Provider == (common.Address{}) {
		return fmt.Errorf("NATS user %s has the provider role but no provider account", u.Name)
	}
	return nil
}

// InboxPrefix is where the user's replies arrive: _INBOX.<its nkey>. Each
// user may subscribe only under its own prefix, so no one reads another's
// replies (pulled messages and API responses travel to inboxes).
func InboxPrefix(nkey string) string { return "_INBOX." + nkey }

// Permissions are the subjects a user may publish to and subscribe to.
type Permissions struct {
	Publish   []string `json:"publish"`
	Subscribe []string `json:"subscribe"`
}

// jsAPI is the prefix of the JetStream API subjects.
const jsAPI = "$JS.API."

// consume is what reading a durable pull consumer takes: its info, pulling
// the next messages, and acking them.
func consume(stream, consumer string) []string {
	return []string{
		jsAPI + "CONSUMER.INFO." + stream + "." + consumer,
		jsAPI + "CONSUMER.MSG.NEXT." + stream + "." + consumer,
		"$JS.ACK." + stream + "." + consumer + ".>",
	}
}

// readStream is what reading a stream's messages by subject takes (its
// info and direct gets; object-store chunks are read the same way).
func readStream(stream string) []string {
	return []string{jsAPI + "STREAM.INFO." + stream, jsAPI + "DIRECT.GET." + stream, jsAPI + "DIRECT.GET." + stream + ".>"}
}

// readBlobs is what reading ciphertext blobs takes: small ones from
// VSC_BLOBS, large ones from the blobs object store.
func readBlobs() []string {
	return append(readStream(BlobStream), readStream(objectStream(BlobBucket))...)
}

// Permissions returns what u may do: the union of its roles' subjects,
// each spelled out (no wildcard grants a stream or consumer it does not
// need), and subscriptions only to its own inbox.
func (u *User) Permissions() Permissions {
	var pub []string
	for _, r := range u.Roles {
		switch r {
		case RoleCoordinator:
			pub = append(pub, jsAPI+"INFO", jobsPrefix+">", votesPrefix+">", blobPrefix+">", objectPrefix(BlobBucket)+">")
			for _, s := range []string{JobsStream, ResultsStream, VotesStream, BlobStream, ProofStream, AnswersStream, objectStream(BlobBucket)} {
				for _, op := range []string{"CREATE", "UPDATE", "INFO", "PURGE", "MSG.GET", "MSG.DELETE"} {
					pub = append(pub, jsAPI+"STREAM."+op+"."+s)
				}
				pub = append(pub, jsAPI+"DIRECT.GET."+s, jsAPI+"DIRECT.GET."+s+".>")
			}
			// the work-queue and result consumers it creates, and the
			// ordered consumers that list the blob bucket
			for _, s := range []string{JobsStream, ResultsStream, AnswersStream, objectStream(BlobBucket)} {
				pub = append(pub, jsAPI+"CONSUMER.CREATE."+s, jsAPI+"CONSUMER.CREATE."+s+".>", jsAPI+"CONSUMER.INFO."+s+".>",
					jsAPI+"CONSUMER.DELETE."+s+".>")
			}
			// reading (never changing) every work stream's consumers: its /metrics
			for _, s := range []string{JobsStream, ResultsStream, VotesStream} {
				pub = append(pub, jsAPI+"CONSUMER.LIST."+s, jsAPI+"CONSUMER.INFO."+s+".>")
			}
			pub = append(pub, "$JS.FC."+objectStream(BlobBucket)+".>")
			pub = append(pub, consume(ResultsStream, resultsConsumer)...)
			pub = append(pub, consume(AnswersStream, answersConsumer)...)
		case RoleTEE, RoleZK, RoleOptimistic:
			kind := idao.Kind(r)
			pub = append(pub, resultsPrefix+string(kind))
			pub = append(pub, consume(JobsStream, jobsConsumer(kind))...)
			pub = append(pub, readBlobs()...)
			if r == RoleZK {
				pub = append(pub, proofPrefix+">")
			}
		case RoleMember:
			d := MemberConsumer(u.Member)
			pub = append(pub, resultsPrefix+string(work.VoteKind), jsAPI+"STREAM.INFO."+VotesStream,
				jsAPI+"CONSUMER.CREATE."+VotesStream+"."+d, jsAPI+"CONSUMER.CREATE."+VotesStream+"."+d+".>")
			pub = append(pub, consume(VotesStream, d)...)
			pub = append(pub, readStream(ProofStream)...)
		case RoleProvider:
			d := QueryConsumer(u.Provider)
			pub = append(pub, answersPrefix+providerToken(u.Provider), jsAPI+"STREAM.INFO."+JobsStream,
				jsAPI+"CONSUMER.CREATE."+JobsStream+"."+d, jsAPI+"CONSUMER.CREATE."+JobsStream+"."+d+".>")
			pub = append(pub, consume(JobsStream, d)...)
			pub = append(pub, readBlobs()...)
		}
	}
	slices.Sort(pub)
	sub := []string{InboxPrefix(u.NKey) + ".>"}
	if slices.Contains(u.Roles, RoleCoordinator) {
		sub = append(sub, maxDeliveriesAdvisory) // jobs whose workers died on them (StuckJobs)
	}
	return Permissions{Publish: slices.Compact(pub), Subscribe: sub}
}

// Credentials are a NATS user's secret: its nkey seed (made by
// NewCredentials, or read from a seed file), or a JWT .creds file issued by
// an operator's account (nsc). They never leave the process, and the seed
// file is written 0600.
type Credentials struct {
	// User is the public half; for JWT credentials only NKey is known here
	// (the operator's account holds the rest).
	User User
	seed []byte // nkey seed, or nil for a JWT file
	jwt  string // path of a JWT .creds file
}

// NewCredentials makes a fresh user nkey for name with roles; account is
// the chain account of a member (RoleMember) or a provider (RoleProvider).
func NewCredentials(name string, roles []Role, account common.Address) (*Credentials, error) {
	kp, err := nkeys.CreateUser()
	if err != nil {
		return nil, fmt.Errorf("make a NATS user key: %w", err)
	}
	defer kp.Wipe()
	seed, err := kp.Seed()
	if err != nil {
		return nil, err
	}
	pub, err := kp.PublicKey()
	if err != nil {
		return nil, err
	}
	u := User{Name: name, Roles: roles, NKey: pub}
	if slices.Contains(roles, RoleMember) {
		u.Member = account
	}
	if slices.Contains(roles, RoleProvider) {
		u.Provider = account
	}
	c := &Credentials{User: u, seed: bytes.Clone(seed)}
	if err := c.User.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// jwtMarker starts the user JWT in an nsc .creds file.
const jwtMarker = "-----BEGIN NATS USER JWT-----"

// LoadCredentials reads a user nkey seed file (as WriteFile writes it) or
// a JWT .creds file; a seed file's public descriptor (path + ".pub"), when
// present, gives the user's name and roles.
func LoadCredentials(path string) (*Credentials, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("NATS credentials: %w (make them with `vscd nats creds`)", err)
	}
	defer clear(raw)
	kp, err := nkeys.ParseDecoratedNKey(raw)
	if err != nil {
		return nil, fmt.Errorf("NATS credentials %s: no user nkey seed in the file (%v): make one with `vscd nats creds`", path, err)
	}
	defer kp.Wipe()
	pub, err := kp.PublicKey()
	if err != nil || !nkeys.IsValidPublicUserKey(pub) {
		return nil, fmt.Errorf("NATS credentials %s: the seed is not a user nkey (S U…)", path)
	}
	c := &Credentials{User: User{Name: filepath.Base(path), NKey: pub}}
	if bytes.Contains(raw, []byte(jwtMarker)) {
		c.jwt = path
		return c, nil
	}
	seed, err := kp.Seed()
	if err != nil {
		return nil, err
	}
	c.seed = bytes.Clone(seed) // Wipe clears the key pair's own copy
	if desc, err := os.ReadFile(path + ".pub"); err == nil {
		var u User
		if json.Unmarshal(desc, &u) == nil && u.NKey == pub {
			c.User = u
		}
	}
	return c, nil
}

// WriteFile writes the seed to path (mode 0600, a comment naming the user
// first) and the public descriptor to path.pub, which is what `vscd nats
// config` reads and all the server operator needs.
func (c *Credentials) WriteFile(path string) error {
	if c.seed == nil {
		return errors.New("JWT credentials are issued by the operator's account (nsc), not written here")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	roles := make([]string, len(c.User.Roles))
	for i, r := range c.User.Roles {
		roles[i] = string(r)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# vsc NATS credentials of user %q (roles %s): a secret, keep it 0600.\n", c.User.Name, strings.Join(roles, ","))
	fmt.Fprintf(&b, "# public key %s; the server learns it from %s.pub (`vscd nats config`).\n", c.User.NKey, filepath.Base(path))
	b.Write(c.seed)
	b.WriteByte('\n')
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		return err
	}
	desc, err := json.MarshalIndent(c.User, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path+".pub", append(desc, '\n'), 0o644)
}

// ReadUser reads a public user descriptor (a .pub file).
func ReadUser(path string) (User, error) {
	var u User
	raw, err := os.ReadFile(path)
	if err != nil {
		return u, err
	}
	if err := json.Unmarshal(raw, &u); err != nil {
		return u, fmt.Errorf("%s is not a NATS user descriptor (`vscd nats creds` writes FILE.pub): %w", path, err)
	}
	if err := u.Validate(); err != nil {
		return u, fmt.Errorf("%s: %w", path, err)
	}
	return u, nil
}

// options are the connection options that authenticate as c.
func (c *Credentials) options() ([]nats.Option, error) {
	inbox := nats.CustomInboxPrefix(InboxPrefix(c.User.NKey))
	if c.jwt != "" {
		return []nats.Option{nats.UserCredentials(c.jwt), inbox}, nil
	}
	kp, err := nkeys.FromSeed(c.seed)
	if err != nil {
		return nil, fmt.Errorf("NATS credentials of %s: %w", c.User.Name, err)
	}
	sign := func(nonce []byte) ([]byte, error) { return kp.Sign(nonce) }
	return []nats.Option{nats.Nkey(c.User.NKey, sign), inbox}, nil
}
