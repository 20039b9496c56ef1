package tee

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/edgelesssys/ego/attestation/tcbstatus"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/internal/envelope"
	"github.com/vsc-labs/vsc/internal/records"
	"github.com/vsc-labs/vsc/internal/submission"
	"github.com/vsc-labs/vsc/tee/facts"
)

const testChain = 7

// csvData returns a deterministic n-record, 4-field CSV dataset.
func csvData(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	var b strings.Builder
	b.WriteString("age,income,score,zip\n")
	for range n {
		fmt.Fprintf(&b, "%d,%d,%d,%d\n", r.IntN(100), r.IntN(1_000_000)-1000, r.IntN(10), 10000+r.IntN(90000))
	}
	return []byte(b.String())
}

// testRoot signs this package's simulation reports; devPolicy accepts them.
var testRoot = func() *SimRoot {
	r, err := NewRandomSimRoot()
	if err != nil {
		panic(err)
	}
	return r
}()

func devPolicy() Policy { return SimPolicy(testRoot.Address()) }

func openSim(t testing.TB, cfg SimConfig) *Enclave {
	t.Helper()
	e, err := Open(NewSim(cfg), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// client does what `vsc submit` does: commit, seal to the enclave key, sign.
func client(t testing.TB, enc *Enclave, data []byte, nonce uint64) (Job, *submission.Submission) {
	t.Helper()
	ds, err := records.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := envelope.Seal(data, enc.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	contributor, _ := crypto.GenerateKey()
	sub := submission.Submission{
		IDAO: "demo", Mode: "tee", Class: "dataset",
		Contributor:    crypto.PubkeyToAddress(contributor.PublicKey),
		DataHash:       sealed.DataHash,
		Commitment:     records.Commitment(ds),
		Records:        uint64(ds.Len()),
		Fields:         uint32(len(ds.Fields)),
		WrappedKeyHash: sealed.WrappedKeyHash(),
		Nonce:          nonce,
	}
	return Job{ChainID: testChain, Submission: sub, WrappedKey: sealed.WrappedKey, Blob: sealed.Blob}, &sub
}

func process(t testing.TB, enc *Enclave, j Job) *Outcome {
	t.Helper()
	out, err := enc.Process(j)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"csv", csvData(300, 1)},
		{"jsonl with duplicates and invalid", []byte("{\"a\":1,\"b\":2}\n{\"a\":1,\"b\":2}\n{\"a\":9007199254740993,\"b\":0}\n{\"a\":-5,\"b\":7}\n")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			enc := openSim(t, DefaultSimConfig(testRoot))
			j, sub := client(t, enc, tc.data, 1)
			out := process(t, enc, j)
			if out.Status != StatusVerified || out.Evidence == nil {
				t.Fatalf("outcome %+v", out)
			}
			ds, _ := records.Parse(tc.data)
			want, err := facts.Compute(ds, facts.DefaultParams)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(out.Evidence.Facts, want) {
				t.Fatalf("facts from the enclave\n%+v\nfacts on the plaintext\n%+v", out.Evidence.Facts, want)
			}
			// Evidence crosses the wire as JSON; check the decoded copy.
			raw, err := json.Marshal(out.Evidence)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(raw, tc.data[:10]) {
				t.Fatal("evidence carries plaintext")
			}
			var ev Evidence
			if err := json.Unmarshal(raw, &ev); err != nil {
				t.Fatal(err)
			}
			if _, err := VerifyEvidence(devPolicy(), &ev, sub, testChain); err != nil {
				t.Fatalf("VerifyEvidence: %v", err)
			}
		})
	}
}

func TestRoundTripFactsValues(t *testing.T) {
	t.Parallel()
	enc := openSim(t, DefaultSimConfig(testRoot))
	data := []byte("{\"a\":1,\"b\":2}\n{\"a\":1,\"b\":2}\n{\"a\":9007199254740993,\"b\":0}\n{\"a\":-5,\"b\":7}\n")
	j, _ := client(t, enc, data, 1)
	f := process(t, enc, j).Evidence.Facts
	if f.Records != 4 || f.Duplicates != 1 || f.Invalid != 1 || f.Clean != 2 || f.Quality != 5000 {
		t.Fatalf("facts %+v", f)
	}
	if f.Sum[0].String() != "9007199254740990" || f.Min[0] != -5 || f.Max[1] != 7 {
		t.Fatalf("aggregates %+v", f)
	}
}

// strict is a production-like policy for the default sim measurement,
// with simulation allowed so the sim backend can stand in for SGX.
func strictSim() Policy {
	p := devPolicy()
	p.UniqueIDs = nil
	return p
}

// TestVerifyEvidenceRefusals pins the Must-hold list: each forged or
// stale piece of evidence is refused with its own error.
func TestVerifyEvidenceRefusals(t *testing.T) {
	t.Parallel()
	otherRoot, _ := crypto.GenerateKey()
	data := csvData(50, 2)

	// evidence by an enclave configured with cfg
	mk := func(t *testing.T, cfg SimConfig) (*Evidence, *submission.Submission, *Enclave) {
		enc := openSim(t, cfg)
		j, sub := client(t, enc, data, 1)
		return process(t, enc, j).Evidence, sub, enc
	}
	with := func(f func(*SimConfig)) SimConfig { c := DefaultSimConfig(testRoot); f(&c); return c }

	cases := []struct {
		name   string
		policy func() Policy
		build  func(t *testing.T) (*Evidence, *submission.Submission)
		want   error
	}{
		{"valid", strictSim, func(t *testing.T) (*Evidence, *submission.Submission) {
			ev, sub, _ := mk(t, DefaultSimConfig(testRoot))
			return ev, sub
		}, nil},
		{"flipped bit in report body", strictSim, func(t *testing.T) (*Evidence, *submission.Submission) {
			ev, sub, _ := mk(t, DefaultSimConfig(testRoot))
			ev.Report.Report[len(simMagic)+3] ^= 1
			return ev, sub
		}, ErrReportSignature},
		{"flipped bit in report signature", strictSim, func(t *testing.T) (*Evidence, *submission.Submission) {
			ev, sub, _ := mk(t, DefaultSimConfig(testRoot))
			ev.Report.Report[len(ev.Report.Report)-10] ^= 0x10
			return ev, sub
		}, ErrReportSignature},
		{"flipped bit in report root", strictSim, func(t *testing.T) (*Evidence, *submission.Submission) {
			ev, sub, _ := mk(t, DefaultSimConfig(testRoot))
			ev.Report.Report[len(ev.Report.Report)-simTrailer] ^= 0x80
			return ev, sub
		}, ErrReportSignature},
		{"report signed by another root", strictSim, func(t *testing.T) (*Evidence, *submission.Submission) {
			ev, sub, _ := mk(t, with(func(c *SimConfig) { c.Root = NewSimRoot(otherRoot) }))
			return ev, sub
		}, ErrUntrustedRoot},
		{"wrong UniqueID", func() Policy { p := strictSim(); p.UniqueIDs = append(p.UniqueIDs, SimUniqueID); return p },
			func(t *testing.T) (*Evidence, *submission.Submission) {
				ev, sub, _ := mk(t, with(func(c *SimConfig) { c.UniqueID = sha256Of("another build") }))
				return ev, sub
			}, ErrUniqueID},
		{"wrong SignerID", strictSim, func(t *testing.T) (*Evidence, *submission.Submission) {
			ev, sub, _ := mk(t, with(func(c *SimConfig) { c.SignerID = sha256Of("another signer") }))
			return ev, sub
		}, ErrSignerID},
		{"wrong ProductID", strictSim, func(t *testing.T) (*Evidence, *submission.Submission) {
			ev, sub, _ := mk(t, with(func(c *SimConfig) { c.ProductID = 2 }))
			return ev, sub
		}, ErrProductID},
		{"SecurityVersion below minimum", func() Policy { p := strictSim(); p.MinSecurityVersion = 2; return p },
			func(t *testing.T) (*Evidence, *submission.Submission) {
				ev, sub, _ := mk(t, DefaultSimConfig(testRoot))
				return ev, sub
			}, ErrSecurityVersion},
		{"debug enclave", strictSim, func(t *testing.T) (*Evidence, *submission.Submission) {
			ev, sub, _ := mk(t, with(func(c *SimConfig) { c.Debug = true }))
			return ev, sub
		}, ErrDebug},
		{"simulation report under a strict policy", func() Policy { p := strictSim(); p.AllowSimulation = false; return p },
			func(t *testing.T) (*Evidence, *submission.Submission) {
				ev, sub, _ := mk(t, DefaultSimConfig(testRoot))
				return ev, sub
			}, ErrSimulation},
		{"valid report for another enclave key", strictSim, func(t *testing.T) (*Evidence, *submission.Submission) {
			ev, sub, _ := mk(t, DefaultSimConfig(testRoot))
			other := openSim(t, DefaultSimConfig(testRoot))
			att, err := NewSim(DefaultSimConfig(testRoot)).Attest(ResultReportData(other.PublicKeyBytes(), ev.ResultDigest))
			if err != nil {
				t.Fatal(err)
			}
			ev.Report = att
			return ev, sub
		}, ErrKeyBinding},
		{"replayed report for another result", strictSim, func(t *testing.T) (*Evidence, *submission.Submission) {
			ev, sub, enc := mk(t, DefaultSimConfig(testRoot))
			j2, _ := client(t, enc, csvData(20, 3), 2)
			ev.Report = process(t, enc, j2).Evidence.Report
			return ev, sub
		}, ErrResultBinding},
		{"evidence signed by a key other than the attested one", strictSim, func(t *testing.T) (*Evidence, *submission.Submission) {
			ev, sub, _ := mk(t, DefaultSimConfig(testRoot))
			k, _ := crypto.GenerateKey()
			ev.Signature, _ = crypto.Sign(ev.ResultDigest[:], k)
			return ev, sub
		}, ErrEvidenceSignature},
		{"out-of-date TCB under a policy that refuses it", strictSim, func(t *testing.T) (*Evidence, *submission.Submission) {
			ev, sub, _ := mk(t, with(func(c *SimConfig) { c.TCBStatus = tcbstatus.OutOfDate }))
			return ev, sub
		}, ErrTCBStatus},
		{"out-of-date TCB accepted when the policy says so", func() Policy {
			p := strictSim()
			p.AcceptTCB = []string{"UpToDate", "OutOfDate"}
			return p
		}, func(t *testing.T) (*Evidence, *submission.Submission) {
			ev, sub, _ := mk(t, with(func(c *SimConfig) { c.TCBStatus = tcbstatus.OutOfDate }))
			return ev, sub
		}, nil},
		{"evidence for another submission", strictSim, func(t *testing.T) (*Evidence, *submission.Submission) {
			ev, sub, _ := mk(t, DefaultSimConfig(testRoot))
			other := *sub
			other.Nonce++
			return ev, &other
		}, ErrSubmission},
		{"tampered facts", strictSim, func(t *testing.T) (*Evidence, *submission.Submission) {
			ev, sub, _ := mk(t, DefaultSimConfig(testRoot))
			ev.Facts.Sum[1].Add64(1)
			return ev, sub
		}, ErrResultDigest},
		{"inconsistent facts", strictSim, func(t *testing.T) (*Evidence, *submission.Submission) {
			ev, sub, _ := mk(t, DefaultSimConfig(testRoot))
			ev.Facts.Quality++
			return ev, sub
		}, ErrFacts},
		{"evidence naming another enclave address", strictSim, func(t *testing.T) (*Evidence, *submission.Submission) {
			ev, sub, _ := mk(t, DefaultSimConfig(testRoot))
			ev.Enclave[0] ^= 1
			return ev, sub
		}, ErrMalformed},
		{"SGX report in a binary without ego", strictSim, func(t *testing.T) (*Evidence, *submission.Submission) {
			ev, sub, _ := mk(t, DefaultSimConfig(testRoot))
			ev.Report.Backend, ev.Backend = BackendEgo, BackendEgo
			return ev, sub
		}, egoVerifyErr},
	}
	seen := map[error]string{}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ev, sub := tc.build(t)
			_, err := VerifyEvidence(tc.policy(), ev, sub, testChain)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
		if tc.want == nil || tc.want == egoVerifyErr {
			continue
		}
		if prev, dup := seen[tc.want]; dup && !strings.HasPrefix(tc.name, "flipped") {
			t.Errorf("%q and %q share the error %v", prev, tc.name, tc.want)
		}
		seen[tc.want] = tc.name
	}
}

// TestKeyAttestationRefusals: the client refuses the same forged reports
// before it wraps a data key to an enclave key.
func TestKeyAttestationRefusals(t *testing.T) {
	t.Parallel()
	otherRoot, _ := crypto.GenerateKey()
	with := func(f func(*SimConfig)) SimConfig { c := DefaultSimConfig(testRoot); f(&c); return c }
	cases := []struct {
		name   string
		policy Policy
		cfg    SimConfig
		mutate func(t *testing.T, pub []byte, a *Attestation) []byte
		want   error
	}{
		{"valid", strictSim(), DefaultSimConfig(testRoot), nil, nil},
		{"flipped bit", strictSim(), DefaultSimConfig(testRoot), func(t *testing.T, pub []byte, a *Attestation) []byte {
			a.Report[20] ^= 4
			return pub
		}, ErrReportSignature},
		{"another root", strictSim(), with(func(c *SimConfig) { c.Root = NewSimRoot(otherRoot) }), nil, ErrUntrustedRoot},
		{"wrong UniqueID", Policy{UniqueIDs: []hexutil.Bytes{SimUniqueID}, AllowSimulation: true, SimulationRoots: []common.Address{testRoot.Address()}},
			with(func(c *SimConfig) { c.UniqueID = []byte{1} }), nil, ErrUniqueID},
		{"wrong SignerID", strictSim(), with(func(c *SimConfig) { c.SignerID = []byte{1} }), nil, ErrSignerID},
		{"wrong ProductID", strictSim(), with(func(c *SimConfig) { c.ProductID = 9 }), nil, ErrProductID},
		{"low SecurityVersion", strictSim(), with(func(c *SimConfig) { c.SecurityVersion = 0 }), nil, ErrSecurityVersion},
		{"debug", strictSim(), with(func(c *SimConfig) { c.Debug = true }), nil, ErrDebug},
		{"simulation under strict policy", Policy{SignerID: SimSignerID, ProductID: SimProductID}, DefaultSimConfig(testRoot), nil, ErrSimulation},
		{"report for another key", strictSim(), DefaultSimConfig(testRoot), func(t *testing.T, pub []byte, a *Attestation) []byte {
			k, _ := crypto.GenerateKey()
			return crypto.FromECDSAPub(&k.PublicKey)
		}, ErrKeyBinding},
		{"out-of-date TCB", strictSim(), with(func(c *SimConfig) { c.TCBStatus = tcbstatus.Revoked }), nil, ErrTCBStatus},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			enc := openSim(t, tc.cfg)
			pub, att := enc.PublicKeyBytes(), enc.KeyAttestation()
			att.Report = append([]byte(nil), att.Report...)
			if tc.mutate != nil {
				pub = tc.mutate(t, pub, &att)
			}
			_, err := VerifyKeyAttestation(tc.policy, pub, att)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestProcessRejects(t *testing.T) {
	t.Parallel()
	enc := openSim(t, DefaultSimConfig(testRoot))
	data := csvData(40, 4)
	cases := []struct {
		name     string
		mutate   func(j *Job)
		reason   string
		evidence error // VerifyEvidence's verdict on the attested rejection, if any
	}{
		{"commitment mismatch", func(j *Job) { j.Submission.Commitment[31] ^= 1 }, "commitment mismatch", ErrCommitment},
		{"record count mismatch", func(j *Job) { j.Submission.Records++ }, "record count mismatch", ErrRecordCount},
		{"not a dataset", func(j *Job) {
			s, _ := envelope.Seal([]byte("a,b\n1,2\n1,secret-value\n"), enc.PublicKey())
			j.Blob, j.WrappedKey = s.Blob, s.WrappedKey
			j.Submission.DataHash, j.Submission.WrappedKeyHash = s.DataHash, s.WrappedKeyHash()
		}, "dataset is invalid at line 3, column 2", nil},
		{"a JSON Lines string value", func(j *Job) {
			s, _ := envelope.Seal([]byte("{\"a\":1}\n{\"a\":\"secret-value\"}\n"), enc.PublicKey())
			j.Blob, j.WrappedKey = s.Blob, s.WrappedKey
			j.Submission.DataHash, j.Submission.WrappedKeyHash = s.DataHash, s.WrappedKeyHash()
		}, "dataset is invalid at line 2, field 1", nil},
		{"a file without a header", func(j *Job) {
			s, _ := envelope.Seal([]byte("1,secret\n2,x\n"), enc.PublicKey())
			j.Blob, j.WrappedKey = s.Blob, s.WrappedKey
			j.Submission.DataHash, j.Submission.WrappedKeyHash = s.DataHash, s.WrappedKeyHash()
		}, "dataset is invalid at line 2, column 2", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			j, _ := client(t, enc, data, 1)
			tc.mutate(&j)
			out := process(t, enc, j)
			if out.Status != StatusRejected || !strings.Contains(out.Reason, tc.reason) {
				t.Fatalf("outcome %q %q, want rejected with %q", out.Status, out.Reason, tc.reason)
			}
			if strings.Contains(out.Reason, "age,income") || strings.Contains(out.Reason, "secret") {
				t.Fatal("reason leaks plaintext")
			}
			if tc.evidence == nil {
				if out.Evidence != nil {
					t.Fatal("unexpected evidence")
				}
				return
			}
			if _, err := VerifyEvidence(devPolicy(), out.Evidence, &j.Submission, testChain); !errors.Is(err, tc.evidence) {
				t.Fatalf("VerifyEvidence of the rejection: %v, want %v", err, tc.evidence)
			}
		})
	}
}

// TestRestartKeepsKey: a restarted enclave unseals the same identity, so its
// on-chain registration (the key and its attestation) stays valid, and data
// wrapped before the restart still opens.
// TestProcessErrors: inputs that are not the data's fault are errors (retry,
// then fail), never a rejection of the submission.
func TestProcessErrors(t *testing.T) {
	t.Parallel()
	enc, other := openSim(t, DefaultSimConfig(testRoot)), openSim(t, DefaultSimConfig(testRoot))
	for _, tc := range []struct {
		name   string
		job    func() Job
		want   error
		reason string
	}{
		{"wrapped to another enclave key", func() Job { j, _ := client(t, other, csvData(5, 1), 1); return j }, ErrWrongEnclaveKey, ""},
		{"wrapped key not the signed one", func() Job {
			j, _ := client(t, enc, csvData(5, 1), 1)
			j.WrappedKey = append([]byte{0}, j.WrappedKey...)
			return j
		}, ErrJobInputs, "wrapped_key_hash"},
		{"blob not the signed one", func() Job {
			j, _ := client(t, enc, csvData(5, 1), 1)
			j.Blob = append(j.Blob, 0)
			return j
		}, ErrJobInputs, "data_hash"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := enc.Process(tc.job())
			if !errors.Is(err, tc.want) || out != nil || !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("Process = %+v, %v; want %v", out, err, tc.want)
			}
		})
	}
}

func TestRestartKeepsKey(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first, err := OpenSim(dir)
	if err != nil {
		t.Fatal(err)
	}
	j, sub := client(t, first, csvData(10, 5), 1)
	st, err := os.Stat(filepath.Join(dir, KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("sealed key mode %v, want 0600", st.Mode().Perm())
	}
	registered, registeredAtt := first.PublicKeyBytes(), first.KeyAttestation()
	root, ok := first.SimRoot()
	if !ok {
		t.Fatal("a simulation enclave names no simulation root")
	}
	if st, err := os.Stat(filepath.Join(dir, SimRootFile)); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("simulation root file: %v %v", st, err)
	}

	again, err := OpenSim(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.PublicKeyBytes(), registered) {
		t.Fatal("restart changed the enclave key")
	}
	if r, _ := again.SimRoot(); r != root {
		t.Fatalf("restart changed the simulation root: %s → %s", root, r)
	}
	devPolicy := func() Policy { return SimPolicy(root) }
	// another data dir is another root: its reports do not pass this one's policy
	stranger, err := OpenSim(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyKeyAttestation(devPolicy(), stranger.PublicKeyBytes(), stranger.KeyAttestation()); !errors.Is(err, ErrUntrustedRoot) {
		t.Fatalf("another devnet's enclave under this one's policy: %v, want ErrUntrustedRoot", err)
	}
	// the registration made before the restart still verifies, and so does the new one
	for _, att := range []Attestation{registeredAtt, again.KeyAttestation()} {
		if _, err := VerifyKeyAttestation(devPolicy(), again.PublicKeyBytes(), att); err != nil {
			t.Fatal(err)
		}
	}
	// the chain's enclave-register check (KeyRegistry) accepts the same
	// registration for the restarted enclave: the on-chain entry, keyed by
	// (iDAO, pubkey), still names it
	policy, _ := json.Marshal(devPolicy())
	if err := (KeyRegistry{}).VerifyEnclaveKey("demo", policy, again.PublicKeyBytes(), EncodeAttestation(registeredAtt)); err != nil {
		t.Fatal(err)
	}
	out := process(t, again, j)
	if out.Status != StatusVerified {
		t.Fatalf("after restart: %+v", out)
	}
	if _, err := VerifyEvidence(devPolicy(), out.Evidence, sub, testChain); err != nil {
		t.Fatal(err)
	}
	// a file sealed by another backend is refused, not silently replaced
	if err := os.WriteFile(filepath.Join(dir, KeyFile), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenSim(dir); err == nil {
		t.Fatal("opened a corrupt sealed key")
	}
}

func TestPolicyJSON(t *testing.T) {
	t.Parallel()
	p := devPolicy()
	p.UniqueIDs = []hexutil.Bytes{SimUniqueID}
	p.AcceptTCB = []string{"UpToDate", "SWHardeningNeeded"}
	raw, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParsePolicy(raw)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, p) {
		t.Fatalf("round trip\n%+v\n%+v", got, p)
	}
	var zero Policy
	if zero.AllowSimulation || zero.AllowDebug {
		t.Fatal("zero policy must be strict")
	}
	for _, bad := range []string{
		`{}`,
		`{"signer_id":"0x01","accept_tcb":["Fine"]}`,
		`{"signer_id":"0x01","surprise":true}`,
		`not json`,
	} {
		if _, err := ParsePolicy([]byte(bad)); !errors.Is(err, ErrPolicy) {
			t.Errorf("ParsePolicy(%s) = %v, want ErrPolicy", bad, err)
		}
	}
}

// No simulation root is trusted by default: a policy that allows
// simulation must name its roots, and one without roots is refused.
func TestSimulationNeedsRoots(t *testing.T) {
	t.Parallel()
	p := devPolicy()
	p.SimulationRoots = nil
	if err := p.Validate(); !errors.Is(err, ErrPolicy) || !strings.Contains(err.Error(), "simulation_roots") {
		t.Fatalf("allow_simulation without roots: %v, want ErrPolicy naming simulation_roots", err)
	}
	enc := openSim(t, DefaultSimConfig(testRoot))
	if _, err := VerifyKeyAttestation(p, enc.PublicKeyBytes(), enc.KeyAttestation()); !errors.Is(err, ErrPolicy) {
		t.Fatalf("verify under a rootless simulation policy: %v", err)
	}
	a, err := NewSim(SimConfig{UniqueID: SimUniqueID, SignerID: SimSignerID, ProductID: SimProductID, SecurityVersion: SimSecurityVersion}).Attest([64]byte{1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyReport(devPolicy(), a); !errors.Is(err, ErrUntrustedRoot) {
		t.Fatalf("a sim made without a root signs with a fresh one nobody trusts: %v", err)
	}
}

func FuzzDecodeSimReport(f *testing.F) {
	a, _ := NewSim(DefaultSimConfig(testRoot)).Attest([64]byte{1, 2, 3})
	f.Add([]byte(a.Report))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, raw []byte) {
		r, _, err := DecodeSimReport(raw)
		if err == nil {
			body, err := encodeSimBody(r)
			if err != nil || !bytes.Equal(body, raw[:len(raw)-simTrailer]) {
				t.Fatalf("decode/encode mismatch: %v", err)
			}
		}
		// garbage never panics the policy path either
		_, _ = VerifyReport(devPolicy(), Attestation{Backend: BackendSim, Report: raw})
	})
}

func FuzzEvidenceJSON(f *testing.F) {
	enc := openSim(f, DefaultSimConfig(testRoot))
	j, _ := client(f, enc, csvData(5, 6), 1)
	raw, _ := json.Marshal(process(f, enc, j).Evidence)
	f.Add(raw)
	f.Add([]byte(`{"facts":{"fields":["a"],"sum":["1"]}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		var ev Evidence
		if json.Unmarshal(raw, &ev) != nil {
			return
		}
		_, _ = VerifyEvidence(devPolicy(), &ev, &j.Submission, testChain)
	})
}

// TestEveryFlippedBit: flipping any single bit of a report (body, root or
// signature) is refused as ErrReportSignature, both in evidence and in a key
// attestation.
func TestEveryFlippedBit(t *testing.T) {
	t.Parallel()
	enc := openSim(t, DefaultSimConfig(testRoot))
	j, sub := client(t, enc, csvData(3, 1), 1)
	ev := process(t, enc, j).Evidence
	orig := append([]byte(nil), ev.Report.Report...)
	keyAtt := enc.KeyAttestation()
	for i := range orig {
		for bit := range 8 {
			ev.Report.Report = append([]byte(nil), orig...)
			ev.Report.Report[i] ^= 1 << bit
			if _, err := VerifyEvidence(devPolicy(), ev, sub, testChain); !errors.Is(err, ErrReportSignature) {
				t.Fatalf("evidence, byte %d bit %d: %v", i, bit, err)
			}
			att := Attestation{Backend: keyAtt.Backend, Report: append([]byte(nil), keyAtt.Report...)}
			if i < len(att.Report) {
				att.Report[i] ^= 1 << bit
				if _, err := VerifyKeyAttestation(devPolicy(), enc.PublicKeyBytes(), att); !errors.Is(err, ErrReportSignature) {
					t.Fatalf("key attestation, byte %d bit %d: %v", i, bit, err)
				}
			}
		}
	}
}

// TestBatchAttestation: results attested together each verify on their own,
// a rejection in the batch is still an attested rejection, and a result
// cannot borrow another result's place in the batch.
func TestBatchAttestation(t *testing.T) {
	t.Parallel()
	enc := openSim(t, DefaultSimConfig(testRoot))
	var jobs []Job
	var subs []*submission.Submission
	for i := range 5 {
		j, sub := client(t, enc, csvData(20+i, uint64(i)), uint64(i))
		jobs, subs = append(jobs, j), append(subs, sub)
	}
	subs[3].Commitment[0] ^= 1 // the contributor lies about this one
	jobs[3].Submission = *subs[3]
	outs, errs := enc.ProcessBatch(jobs)
	var evs []*Evidence
	for i, out := range outs {
		if errs[i] != nil || out == nil || out.Evidence == nil || out.Evidence.Batch == nil {
			t.Fatalf("job %d: %v %+v", i, errs[i], out)
		}
		// across the wire
		raw, _ := json.Marshal(out.Evidence)
		var ev Evidence
		if err := json.Unmarshal(raw, &ev); err != nil {
			t.Fatal(err)
		}
		evs = append(evs, &ev)
		_, err := VerifyEvidence(devPolicy(), &ev, subs[i], testChain)
		if i == 3 {
			if out.Status != StatusRejected || !errors.Is(err, ErrCommitment) {
				t.Fatalf("the lying submission: %s, %v", out.Status, err)
			}
			continue
		}
		if out.Status != StatusVerified || err != nil {
			t.Fatalf("job %d: %s, %v", i, out.Status, err)
		}
		if string(ev.Signature) != string(evs[0].Signature) || ev.Batch.Size != 5 {
			t.Fatalf("job %d: not one signed batch", i)
		}
	}
	cp := func(ev *Evidence) *Evidence {
		c := *ev
		b := *ev.Batch
		b.Path = append([]common.Hash(nil), b.Path...)
		c.Batch = &b
		return &c
	}
	for name, tc := range map[string]struct {
		mutate func(ev *Evidence)
		want   error
	}{
		"another index":      {func(ev *Evidence) { ev.Batch.Index = 2 }, ErrResultBinding},
		"path element":       {func(ev *Evidence) { ev.Batch.Path[1][0] ^= 1 }, ErrResultBinding},
		"short path":         {func(ev *Evidence) { ev.Batch.Path = ev.Batch.Path[1:] }, ErrResultBinding},
		"another batch size": {func(ev *Evidence) { ev.Batch.Size = 6 }, ErrResultBinding},
		"another root":       {func(ev *Evidence) { ev.Batch.Root[0] ^= 1 }, ErrResultBinding},
		"batch dropped":      {func(ev *Evidence) { ev.Batch = nil }, ErrResultBinding},
	} {
		ev := cp(evs[1])
		tc.mutate(ev)
		if _, err := VerifyEvidence(devPolicy(), ev, subs[1], testChain); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
	// one job alone is attested alone, as before batches
	j, sub := client(t, enc, csvData(7, 9), 9)
	if ev := process(t, enc, j).Evidence; ev.Batch != nil {
		t.Fatal("a single result carries a batch")
	} else if _, err := VerifyEvidence(devPolicy(), ev, sub, testChain); err != nil {
		t.Fatal(err)
	}
}
