package main

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/vsc-labs/vsc/chain/tx"
	"github.com/vsc-labs/vsc/coordinator"
	"github.com/vsc-labs/vsc/coordinator/client"
	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/internal/bus"
	"github.com/vsc-labs/vsc/internal/codes"
	"github.com/vsc-labs/vsc/internal/keys"
	"github.com/vsc-labs/vsc/internal/testenv"
	"github.com/vsc-labs/vsc/internal/work"
	"github.com/vsc-labs/vsc/quorum"
	"github.com/vsc-labs/vsc/tee"
)

// The bus table: peers that hold NATS credentials they should not (a
// member's, a worker's), outsiders who hold none, and messages that get
// through the permissions but must not be believed. The victim is a
// submission of the attacker's own iDAO "frozen", whose one member (the
// attacker) runs no node: it stays voting while the rows run.

// busVictim is the table's voting victim; busMinted a submission minted
// before the rows run.
var busVictim, busMinted common.Hash

func init() {
	registerAttackSetup("bus", setupBusVictim)
	results := []string{"stream:" + bus.ResultsStream}
	registerAttacks("bus", []attack{
		{name: "connect to NATS without credentials", code: "unauthorized", says: "Authorization Violation",
			run: func(t *testing.T, a *arena) error {
				nc, err := nats.Connect(a.nats.ClientURL(), nats.MaxReconnects(0))
				if err == nil {
					nc.Close()
				}
				return withCode("unauthorized", err)
			}},
		{name: "connect with a user key the server does not know", code: "unauthorized", says: "Authorization Violation",
			run: func(t *testing.T, a *arena) error {
				kp, _ := nkeys.CreateUser()
				pub, _ := kp.PublicKey()
				nc, err := nats.Connect(a.nats.ClientURL(), nats.MaxReconnects(0), nats.Nkey(pub, kp.Sign))
				if err == nil {
					nc.Close()
				}
				return withCode("unauthorized", err)
			}},
		{name: "a member publishes a TEE rejection", code: "permission", says: "Permissions Violation for Publish",
			run: func(t *testing.T, a *arena) error {
				return a.denied(t, "member-1", false, "vsc.results.tee", `{"kind":"tee","rejected":true}`)
			}},
		{name: "a worker publishes a job", code: "permission", says: "Permissions Violation for Publish",
			run: func(t *testing.T, a *arena) error { return a.denied(t, "worker", false, "vsc.jobs.tee", `{}`) }},
		{name: "a worker publishes a vote request", code: "permission", says: "Permissions Violation for Publish",
			run: func(t *testing.T, a *arena) error {
				return a.denied(t, "worker", false, "vsc.votes.request.demo", `[]`)
			}},
		{name: "a worker stores a blob", code: "permission", says: "Permissions Violation for Publish",
			run: func(t *testing.T, a *arena) error {
				return a.denied(t, "worker", false, "vsc.blob."+common.Hash{1}.Hex(), "ciphertext")
			}},
		{name: "a member pulls another member's vote requests", code: "permission", says: "Permissions Violation for Publish",
			run: func(t *testing.T, a *arena) error {
				other := bus.MemberConsumer(keys.Address(a.key("member-2")))
				return a.denied(t, "member-1", false, "$JS.API.CONSUMER.MSG.NEXT."+bus.VotesStream+"."+other, `{"batch":1}`)
			}},
		{name: "a member deletes the job stream", code: "permission", says: "Permissions Violation for Publish",
			run: func(t *testing.T, a *arena) error {
				return a.denied(t, "member-1", false, "$JS.API.STREAM.DELETE."+bus.JobsStream, ``)
			}},
		{name: "a worker creates a bucket a message named", code: "permission", says: "Permissions Violation for Publish",
			run: func(t *testing.T, a *arena) error {
				return a.denied(t, "worker", false, "$JS.API.STREAM.CREATE.OBJ_evil", `{"name":"OBJ_evil","subjects":["$O.evil.>"]}`)
			}},
		{name: "a worker purges the blobs", code: "permission", says: "Permissions Violation for Publish",
			run: func(t *testing.T, a *arena) error {
				return a.denied(t, "worker", false, "$JS.API.STREAM.PURGE."+bus.BlobStream, `{}`)
			}},
		{name: "a provider answers as another provider", code: "permission", says: "Permissions Violation for Publish",
			run: func(t *testing.T, a *arena) error {
				return a.denied(t, "provider", false, "vsc.answers."+strings.ToLower(common.HexToAddress("0x0bad").Hex()), `{}`)
			}},
		{name: "a worker answers a query job", code: "permission", says: "Permissions Violation for Publish",
			run: func(t *testing.T, a *arena) error {
				return a.denied(t, "worker", false, "vsc.answers."+strings.ToLower(keys.Address(a.key("provider")).Hex()), `{}`)
			}},
		{name: "a provider routes a query job", code: "permission", says: "Permissions Violation for Publish",
			run: func(t *testing.T, a *arena) error {
				return a.denied(t, "provider", false, bus.QuerySubject(keys.Address(a.key("provider"))), `{}`)
			}},
		{name: "a member pulls a provider's query jobs", code: "permission", says: "Permissions Violation for Publish",
			run: func(t *testing.T, a *arena) error {
				return a.denied(t, "member-1", false, "$JS.API.CONSUMER.MSG.NEXT."+bus.JobsStream+"."+bus.QueryConsumer(keys.Address(a.key("provider"))), `{"batch":1}`)
			}},
		{name: "a member subscribes to every subject", code: "permission", says: "Permissions Violation for Subscription",
			run: func(t *testing.T, a *arena) error { return a.denied(t, "member-1", true, ">", "") }},
		{name: "a member reads the coordinator's replies", code: "permission", says: "Permissions Violation for Subscription",
			run: func(t *testing.T, a *arena) error {
				return a.denied(t, "member-1", true, bus.InboxPrefix(a.natsCreds["coordinator"].User.NKey)+".>", "")
			}},
		{name: "an unsigned TEE rejection of a submission in flight", code: codes.UnsignedResult.Name(), says: "not signed by the iDAO's enclave key",
			changes: results,
			run: func(t *testing.T, a *arena) error {
				return a.forgedResult(t, nil, work.Result{Kind: "tee", SubmissionID: busVictim, Rejected: true, Reason: "forged"}, codes.UnsignedResult.Name())
			}},
		{name: "a TEE rejection signed by a stranger's key", code: codes.UnsignedResult.Name(), says: "names signer",
			changes: results,
			run: func(t *testing.T, a *arena) error {
				k, _ := crypto.GenerateKey()
				return a.forgedResult(t, tee.KeySigner{Key: k}, work.Result{Kind: "tee", SubmissionID: busVictim, Rejected: true, Reason: "forged"}, codes.UnsignedResult.Name())
			}},
		{name: "a result of a kind the submission does not need", code: codes.WrongKind.Name(), says: "does not need",
			changes: results,
			run: func(t *testing.T, a *arena) error {
				return a.forgedResult(t, nil, work.Result{Kind: "zk", SubmissionID: busVictim, Reason: "forged failure"}, codes.WrongKind.Name())
			}},
		{name: "a result for a submission never stored", code: codes.UnknownSubmission.Name(), says: "never stored",
			changes: results,
			run: func(t *testing.T, a *arena) error {
				return a.forgedResult(t, nil, work.Result{Kind: "tee", SubmissionID: common.Hash{0xde, 0xad}, Rejected: true}, codes.UnknownSubmission.Name())
			}},
		{name: "a result on another kind's subject", code: "wrong_subject", says: "arrived on vsc.results.tee",
			changes: results,
			run: func(t *testing.T, a *arena) error {
				return a.rawPublish(t, "worker", "vsc.results.tee", fmt.Sprintf(`{"kind":"zk","submission_id":"%s"}`, busVictim.Hex()), "wrong_subject")
			}},
		{name: "an undecodable result", code: "undecodable_result", says: "undecodable result",
			changes: results,
			run: func(t *testing.T, a *arena) error {
				return a.rawPublish(t, "worker", "vsc.results.tee", `{"kind":`, "undecodable_result")
			}},
		{name: "a result over the stream's size limit", code: "too_large", says: "exceeds maximum",
			run: func(t *testing.T, a *arena) error {
				b := a.busAs(t, "worker", bus.Config{})
				ev, _ := json.Marshal(strings.Repeat("x", bus.MaxResultMsg))
				err := b.PublishResult(context.Background(), &work.Result{JobID: "big", Kind: "tee", SubmissionID: busVictim, OK: true, Evidence: ev})
				return withCode("too_large", err)
			}},
		{name: "a self-signed vote for an unknown iDAO", code: codes.VoteOtherIDAO.Name(), says: "another iDAO",
			changes: results,
			run: func(t *testing.T, a *arena) error {
				k, _ := crypto.GenerateKey()
				return a.forgedVote(t, k, &quorum.Vote{IDAO: "nope", Submission: busVictim, Approve: true}, codes.VoteOtherIDAO.Name())
			}},
		{name: "a vote by an account with no stake", code: codes.VoteNotMember.Name(), says: "non-member",
			changes: results,
			run: func(t *testing.T, a *arena) error {
				k, _ := crypto.GenerateKey()
				return a.forgedVote(t, k, &quorum.Vote{IDAO: "frozen", Submission: busVictim, Approve: true}, codes.VoteNotMember.Name())
			}},
		{name: "a vote in the member's name signed by another key", code: codes.VoteBadSignature.Name(), says: "bad signature",
			changes: results,
			run: func(t *testing.T, a *arena) error {
				k, _ := crypto.GenerateKey()
				v := &quorum.Vote{IDAO: "frozen", Submission: busVictim, Approve: false, Reason: "forged"}
				return a.forgedVote(t, k, v, codes.VoteBadSignature.Name(), func(v *quorum.Vote) { v.Member = keys.Address(a.attacker) })
			}},
		{name: "a member's refusal of a vote request the coordinator never sent", code: codes.RefusalNotSent.Name(), says: "did not send",
			changes: results,
			run: func(t *testing.T, a *arena) error {
				// the sole member refuses forged evidence: its refusal must not reject the victim
				v := &quorum.Vote{IDAO: "frozen", Submission: busVictim, ResultDigest: keccak([]byte("a forged request")), Reason: "forged evidence"}
				return a.forgedVote(t, a.attacker, v, codes.RefusalNotSent.Name())
			}},
		{name: "a vote for a submission that is not voting", code: codes.LateVote.Name(), says: "not voting",
			changes: results,
			run: func(t *testing.T, a *arena) error {
				v := &quorum.Vote{IDAO: "demo", Submission: busMinted, ResultDigest: common.Hash{7}, Approve: true}
				return a.forgedVote(t, a.key("member-1"), v, codes.LateVote.Name())
			}},
		{name: "a malformed vote message", code: codes.MalformedVote.Name(), says: "malformed vote",
			changes: results,
			run: func(t *testing.T, a *arena) error {
				b := a.busAs(t, "member-1", bus.Config{})
				since := time.Now()
				r := &work.Result{JobID: "v", Kind: work.VoteKind, SubmissionID: busVictim, OK: true, Evidence: json.RawMessage(`[null]`)}
				if err := b.PublishResult(context.Background(), r); err != nil {
					t.Fatal(err)
				}
				return a.refusalLogged(t, codes.MalformedVote.Name(), since)
			}},
		{name: "an undecodable vote request (stolen coordinator credentials)", code: "undecodable_vote_request", says: "undecodable vote request",
			changes: []string{"stream:" + bus.VotesStream},
			run: func(t *testing.T, a *arena) error {
				return a.rawPublish(t, "coordinator", "vsc.votes.request.demo", `[{"idao":`, "undecodable_vote_request")
			}},
		{name: "an undecodable job (stolen coordinator credentials)", code: "undecodable_job", says: "undecodable job",
			changes: []string{"stream:" + bus.JobsStream},
			run: func(t *testing.T, a *arena) error {
				return a.rawPublish(t, "coordinator", "vsc.jobs.tee", `{"id":`, "undecodable_job")
			}},
	})
}

// setupBusVictim makes the attacker's iDAO "frozen" (the attacker its one
// staked member, running no member node) and a submission to it that the
// devnet's enclave verifies and that then stays voting.
func setupBusVictim(t *testing.T, a *arena) {
	ctx := context.Background()
	minted := a.submit(dataset6, "tee")
	if v := a.wait(minted, 2*time.Minute); v.Status != coordinator.Minted {
		t.Fatalf("honest submission: %s", v.Status)
	}
	busMinted = common.HexToHash(minted)
	demo, err := a.chain.IDAO("demo")
	if err != nil {
		t.Fatal(err)
	}
	policy := demo.Policy
	policy.Modes = []idao.Mode{"tee"}
	for _, body := range []tx.Body{
		&tx.IDAOCreate{Name: "frozen", Policy: policy, Stake: devStake},
		&tx.EnclaveRegister{IDAO: "frozen", PubKey: a.enclave.PublicKeyBytes(), Report: tee.EncodeAttestation(a.enclave.KeyAttestation())},
	} {
		if err := sendAndWait(ctx, a.chain, a.attacker, body); err != nil {
			t.Fatalf("victim iDAO: %s: %v", body.Kind(), err)
		}
	}
	p, err := a.api.Prepare(ctx, []byte(dataset6), client.PrepareOptions{IDAO: "frozen", Mode: "tee", Contributor: keys.Address(a.attacker)})
	if err != nil {
		t.Fatal(err)
	}
	sig, _ := p.Sign(a.attacker)
	v, _, err := a.api.Submit(ctx, p.Request(sig), p.Blob())
	if err != nil {
		t.Fatal(err)
	}
	busVictim = common.HexToHash(v.ID)
	testenv.Eventually(t, time.Minute, func() error {
		v, err := a.api.Status(ctx, busVictim.Hex())
		if err != nil {
			return err
		}
		if v.Status.Final() {
			t.Fatalf("victim: %v, want voting", v.Status)
		}
		if v.Status != coordinator.Voting {
			return fmt.Errorf("victim is %s, want voting", v.Status)
		}
		return nil
	})
	a.pinned = append(a.pinned, busVictim.Bytes())
	t.Cleanup(func() {
		if v, err := a.api.Status(ctx, busVictim.Hex()); err != nil || v.Status != coordinator.Voting || len(v.Votes) != 0 {
			t.Errorf("after the bus table the victim is %v with %d votes (%v), want voting with none", v.Status, len(v.Votes), err)
		}
	})
}

// credsFile is where the devnet keeps a role's NATS credentials.
func (a *arena) credsFile(user string) string {
	return filepath.Join(a.cfg.Data, "nats-creds", user+".creds")
}

// denied publishes (or subscribes) over the devnet's NATS socket as user
// and returns the server's permissions violation (nil: let through).
func (a *arena) denied(t *testing.T, user string, subscribe bool, subject, data string) error {
	t.Helper()
	creds, err := bus.LoadCredentials(a.credsFile(user))
	if err != nil {
		t.Fatal(err)
	}
	seed, err := nats.NkeyOptionFromSeed(a.credsFile(user))
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 4)
	nc, err := nats.Connect(a.nats.ClientURL(), seed, nats.CustomInboxPrefix(bus.InboxPrefix(creds.User.NKey)),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { errc <- err }))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if subscribe {
		_, err = nc.SubscribeSync(subject)
	} else {
		err = nc.Publish(subject, []byte(data))
	}
	if err == nil {
		err = nc.Flush()
	}
	if err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if errors.Is(err, nats.ErrPermissionViolation) || strings.Contains(err.Error(), "Permissions Violation") {
			return err
		}
		return fmt.Errorf("not a permission error: %w", err)
	case <-time.After(2 * time.Second):
		return nil
	}
}

// busAs connects over the devnet's NATS socket as user.
func (a *arena) busAs(t *testing.T, user string, cfg bus.Config) *bus.Bus {
	t.Helper()
	b, err := bus.Connect(bus.ConnectOptions{URL: a.nats.ClientURL(), Creds: a.credsFile(user)}, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}

// forgedResult publishes a worker's result (as the devnet's worker user,
// signed by signer when set) and returns the coordinator's logged refusal.
func (a *arena) forgedResult(t *testing.T, signer bus.Signer, r work.Result, code string) error {
	t.Helper()
	b := a.busAs(t, "worker", bus.Config{Signer: signer})
	r.JobID = work.JobID(r.SubmissionID, r.Kind)
	since := time.Now()
	if err := b.PublishResult(context.Background(), &r); err != nil {
		t.Fatal(err)
	}
	return a.refusalLogged(t, code, since)
}

// forgedVote signs v with key (then lets tweak change it) and publishes it
// as a member would (member-1's NATS user); it returns the coordinator's
// logged refusal.
func (a *arena) forgedVote(t *testing.T, key *ecdsa.PrivateKey, v *quorum.Vote, code string, tweak ...func(*quorum.Vote)) error {
	t.Helper()
	if err := v.Sign(key, a.cfg.Coordinator.ChainID); err != nil {
		t.Fatal(err)
	}
	for _, f := range tweak {
		f(v)
	}
	ev, _ := json.Marshal(v)
	b := a.busAs(t, "member-1", bus.Config{})
	r := &work.Result{JobID: v.Submission.Hex() + "/vote/" + v.Member.Hex(), Kind: work.VoteKind, SubmissionID: v.Submission, OK: true, Evidence: ev}
	since := time.Now()
	if err := b.PublishResult(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	return a.refusalLogged(t, code, since)
}

// rawPublish publishes data on subject as user (JetStream) and returns the
// refusal logged with code.
func (a *arena) rawPublish(t *testing.T, user, subject, data, code string) error {
	t.Helper()
	b := a.busAs(t, user, bus.Config{})
	since := time.Now()
	if _, err := b.JS.Publish(context.Background(), subject, []byte(data)); err != nil {
		t.Fatal(err)
	}
	return a.refusalLogged(t, code, since)
}
