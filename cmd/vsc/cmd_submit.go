package main

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/coordinator"
	"github.com/vsc-labs/vsc/coordinator/client"
	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/internal/cli"
	"github.com/vsc-labs/vsc/internal/keys"
	"github.com/vsc-labs/vsc/tee"
)

func keyNew(ctx context.Context, env *cli.Env, args []string) error {
	fs := flag.NewFlagSet("key new", flag.ContinueOnError)
	out := fs.String("out", "", "file to write the key to (0600, hex)")
	if _, err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *out == "" {
		return cli.Usagef("vsc key new needs --out FILE")
	}
	k, err := crypto.GenerateKey()
	if err != nil {
		return err
	}
	if err := keys.Save(*out, k); err != nil {
		return err
	}
	addr := keys.Address(k)
	return env.Print(map[string]string{"address": addr.Hex(), "file": *out}, func(w io.Writer) {
		fmt.Fprintf(w, "%s\n", addr.Hex())
	})
}

func keyShow(ctx context.Context, env *cli.Env, args []string) error {
	fs := flag.NewFlagSet("key show", flag.ContinueOnError)
	pos, err := cli.Parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return cli.Usagef("vsc key show FILE")
	}
	k, err := keys.Load(pos[0])
	if err != nil {
		return err
	}
	addr := keys.Address(k)
	return env.Print(map[string]string{"address": addr.Hex()}, func(w io.Writer) { fmt.Fprintln(w, addr.Hex()) })
}

// submitFlags are `vsc submit`'s flags.
type submitFlags struct {
	idao, mode, class, keyFile         string
	from, prepare, prepared, signature string
	teePolicy, sequencer, chainAPI     string
	wait, allowSim                     bool
	timeout                            time.Duration
	pos                                []string
}

func parseSubmit(env *cli.Env, args []string) (*submitFlags, error) {
	fs := flag.NewFlagSet("submit", flag.ContinueOnError)
	f := &submitFlags{}
	fs.StringVar(&f.idao, "idao", "", "iDAO to submit to")
	fs.StringVar(&f.mode, "mode", "", "verification mode: tee, zk, tee+zk, optimistic (default: the iDAO's policy)")
	fs.StringVar(&f.class, "class", "dataset", "dataset or model")
	fs.StringVar(&f.keyFile, "key", "", "contributor key file")
	fs.BoolVar(&f.wait, "wait", false, "follow the submission to a final state, with progress on stderr")
	fs.DurationVar(&f.timeout, "timeout", 10*time.Minute, "with --wait: give up after this long")
	fs.StringVar(&f.from, "from", "", "with --prepare: the contributor address that will sign")
	fs.StringVar(&f.prepare, "prepare", "", "encrypt and upload, write the submission and its EIP-712 typed data to this file, and exit")
	fs.StringVar(&f.prepared, "prepared", "", "send a prepared submission (with --signature)")
	fs.StringVar(&f.teePolicy, "tee-policy", "", "check the iDAO's enclave against this TEE policy (JSON) instead of the iDAO's on-chain one")
	fs.StringVar(&f.signature, "signature", "", "with --prepared: the 0x EIP-712 signature made elsewhere")
	fs.StringVar(&f.sequencer, "sequencer", env.Var("VSC_SEQUENCER", ""), "the chain's sequencer address: the iDAO's policy and enclave keys are read from chain state proven under headers it signed (VSC_SEQUENCER; default: the one pinned on first use)")
	fs.StringVar(&f.chainAPI, "chain", env.Var("VSC_CHAIN_API", ""), "the chain's HTTP API for the proven reads (VSC_CHAIN_API; default: --api, which the devnet serves)")
	fs.BoolVar(&f.allowSim, "allow-simulation", false, "accept an iDAO whose TEE policy accepts SIMULATED enclaves (no hardware protection: their host can read the data); for test data on a devnet only")
	pos, err := cli.Parse(fs, args)
	f.pos = pos
	return f, err
}

// submit runs `vsc submit`: a dataset file signed here, a dataset prepared
// for a signature made elsewhere (--prepare), or a prepared one sent with
// that signature (--prepared).
func submit(ctx context.Context, env *cli.Env, args []string) error {
	f, err := parseSubmit(env, args)
	if err != nil {
		return err
	}
	c := client.New(env.API)
	c.Chain = f.chainAPI
	if f.prepared != "" {
		return submitPrepared(ctx, env, c, f)
	}
	if len(f.pos) != 1 {
		return cli.Usagef("vsc submit FILE --idao NAME --key FILE [--wait]")
	}
	if f.idao == "" {
		return cli.Usagef("--idao NAME is required (see `vsc idao list`)")
	}
	st, err := os.Stat(f.pos[0])
	if err != nil {
		return fmt.Errorf("read dataset: %w", err)
	}
	key, contributor, err := f.signer()
	if err != nil {
		return err
	}
	if err := f.trust(c); err != nil {
		return err
	}
	anchor, err := trustAnchor(ctx, env, c, f.sequencer)
	if err != nil {
		return err
	}
	p, err := prepareDataset(ctx, env, c, f, st.Size(), client.PrepareOptions{IDAO: f.idao, Mode: idao.Mode(f.mode), Class: f.class, Contributor: contributor})
	if err != nil {
		return anchor.explain(err)
	}
	if p.Simulation {
		env.Progress("warning: iDAO %s's TEE policy accepts SIMULATED enclaves (no hardware protection; --allow-simulation): fine for a devnet, never for real data", f.idao)
	}
	anchor.keep(env, p.ProvenAt)
	if f.prepare != "" {
		return savePrepared(ctx, env, c, p, f.prepare, contributor)
	}
	sig, err := p.Sign(key)
	if err != nil {
		return err
	}
	v, _, err := c.Submit(ctx, p.Request(sig), p.Blob())
	if err != nil {
		return err
	}
	if p.BlobFile != "" && f.prepare == "" {
		os.Remove(p.BlobFile) // stored by the coordinator now
	}
	return finishSubmit(ctx, env, c, v, f.wait, f.timeout)
}

// prepareDataset prepares the dataset file: read whole when small; over
// client.StreamAbove bytes encrypted in chunks into a blob file (beside
// --prepare's file, else in the temporary directory) and uploaded from it
// with progress on stderr, all in bounded memory.
func prepareDataset(ctx context.Context, env *cli.Env, c *client.Client, f *submitFlags, size int64, o client.PrepareOptions) (*client.Prepared, error) {
	if size <= client.StreamAbove {
		data, err := os.ReadFile(f.pos[0])
		if err != nil {
			return nil, fmt.Errorf("read dataset: %w", err)
		}
		return c.Prepare(ctx, data, o)
	}
	blobFile, state, err := resumeFiles(f, size, o)
	if err != nil {
		return nil, err
	}
	p, err := client.LoadPrepared(state)
	if err == nil && p.Submission.IDAO == o.IDAO && (o.Mode == "" || p.Submission.Mode == o.Mode) && p.Submission.Contributor == o.Contributor {
		env.Progress("resuming: %s was encrypted before (%s); uploading it again", f.pos[0], blobFile)
		if err := refreshNonce(ctx, c, p); err != nil {
			return nil, err
		}
	} else {
		start := time.Now()
		env.Progress("encrypting %s (%s) in chunks…", f.pos[0], mib(size))
		if p, err = c.PrepareFile(ctx, f.pos[0], blobFile, o); err != nil {
			os.Remove(blobFile)
			return nil, err
		}
		env.Progress("encrypted %d records in %.1fs", p.Submission.Records, time.Since(start).Seconds())
		if err := client.SavePrepared(state, p); err != nil {
			return nil, err
		}
	}
	if err := upload(ctx, env, c, p); err != nil {
		return nil, fmt.Errorf("%w (the encrypted blob is kept: run the same command again to resume from the upload)", err)
	}
	if f.prepare == "" {
		os.Remove(state)
	}
	return p, nil
}

// resumeFiles are where a large dataset's blob and its prepared submission
// are kept until they are submitted: beside --prepare's file, else in the
// temporary directory under a name of the dataset's path, size, time, iDAO,
// mode and contributor, so running the same command again resumes.
func resumeFiles(f *submitFlags, size int64, o client.PrepareOptions) (blob, state string, err error) {
	if f.prepare != "" {
		return f.prepare + ".blob", f.prepare, nil
	}
	abs, err := filepath.Abs(f.pos[0])
	if err != nil {
		return "", "", err
	}
	st, err := os.Stat(abs)
	if err != nil {
		return "", "", err
	}
	id := crypto.Keccak256Hash([]byte(fmt.Sprintf("%s\x00%d\x00%d\x00%s\x00%s\x00%s", abs, size, st.ModTime().UnixNano(), o.IDAO, o.Mode, o.Contributor.Hex())))
	base := filepath.Join(os.TempDir(), "vsc-upload-"+id.Hex()[2:18])
	return base + ".blob", base + ".json", nil
}

// refreshNonce gives a resumed submission the contributor's next nonce.
func refreshNonce(ctx context.Context, c *client.Client, p *client.Prepared) error {
	n, err := c.NextNonce(ctx, p.Submission.Contributor)
	if err != nil {
		return err
	}
	p.Submission.Nonce = n
	p.TypedData, p.Digest = p.Submission.TypedData(p.ChainID), p.Submission.Digest(p.ChainID)
	return nil
}

// upload streams a prepared submission's blob file to the coordinator,
// with progress on stderr.
func upload(ctx context.Context, env *cli.Env, c *client.Client, p *client.Prepared) error {
	start := time.Now()
	err := c.UploadBlobFile(ctx, p.Submission.DataHash, p.BlobFile, func(sent, total int64) {
		env.Progress("uploaded %s of %s (%.0f%%, %.1fs)", mib(sent), mib(total), 100*float64(sent)/float64(max(total, 1)), time.Since(start).Seconds())
	})
	if err != nil {
		return fmt.Errorf("upload the blob: %w", err)
	}
	p.Uploaded = true
	return nil
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// submitPrepared sends a prepared submission with the signature made
// elsewhere (--prepared FILE --signature 0x…).
func submitPrepared(ctx context.Context, env *cli.Env, c *client.Client, f *submitFlags) error {
	if f.signature == "" {
		return cli.Usagef("--prepared needs --signature 0x… (the eth_signTypedData_v4 signature of the file's typed_data)")
	}
	p, err := client.LoadPrepared(f.prepared)
	if err != nil {
		return err
	}
	sig, err := hexutil.Decode(f.signature)
	if err != nil {
		return fmt.Errorf("--signature is not 0x hex: %w", err)
	}
	var blob []byte
	if !p.Uploaded {
		blob = p.Blob()
		if blob == nil && p.BlobFile != "" { // a large blob: streamed from its file first
			if err := upload(ctx, env, c, p); err != nil {
				return err
			}
		}
	}
	v, _, err := c.Submit(ctx, p.Request(sig), blob)
	if err != nil {
		return err
	}
	return finishSubmit(ctx, env, c, v, f.wait, f.timeout)
}

// signer is who signs: the --key (its key and address), or with --prepare
// the --from address alone.
func (f *submitFlags) signer() (*ecdsa.PrivateKey, common.Address, error) {
	switch {
	case f.prepare != "":
		if !common.IsHexAddress(f.from) {
			return nil, common.Address{}, cli.Usagef("--prepare needs --from 0xADDRESS (the account that will sign)")
		}
		return nil, common.HexToAddress(f.from), nil
	case f.keyFile != "":
		key, err := keys.Load(f.keyFile)
		if err != nil {
			return nil, common.Address{}, err
		}
		return key, keys.Address(key), nil
	default:
		return nil, common.Address{}, cli.Usagef("--key FILE is required (or --prepare OUT --from ADDR to sign elsewhere)")
	}
}

// trust sets what the client believes of the iDAO's enclave: --tee-policy
// instead of the iDAO's own, and --allow-simulation.
func (f *submitFlags) trust(c *client.Client) error {
	if f.teePolicy != "" {
		raw, err := os.ReadFile(f.teePolicy)
		if err != nil {
			return fmt.Errorf("--tee-policy: %w", err)
		}
		p, err := tee.ParsePolicy(raw)
		if err != nil {
			return fmt.Errorf("--tee-policy %s: %w", f.teePolicy, err)
		}
		c.Trust.TEEPolicy = &p
	}
	c.Trust.AllowSimulation = f.allowSim
	return nil
}

// savePrepared uploads the blob and writes the prepared submission with
// its typed data to out (--prepare).
func savePrepared(ctx context.Context, env *cli.Env, c *client.Client, p *client.Prepared, out string, contributor common.Address) error {
	if !p.Uploaded {
		if err := c.UploadBlob(ctx, p.Submission.DataHash, p.Blob()); err != nil {
			return err
		}
		p.Uploaded = true
	}
	if err := client.SavePrepared(out, p); err != nil {
		return err
	}
	return env.Print(map[string]any{"prepared": out, "digest": p.Digest, "typed_data": p.TypedData}, func(w io.Writer) {
		fmt.Fprintf(w, "wrote %s: sign its typed_data with eth_signTypedData_v4 as %s, then run\n  vsc submit --prepared %s --signature 0x…\n", out, contributor.Hex(), out)
	})
}

func finishSubmit(ctx context.Context, env *cli.Env, c *client.Client, v *coordinator.SubmissionView, wait bool, timeout time.Duration) error {
	if wait {
		env.Progress("submitted %s", v.ID)
		wctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		start := time.Now()
		var err error
		v, err = c.Wait(wctx, v.ID, "", func(v *coordinator.SubmissionView) {
			env.Progress("[%6.1fs] %-10s %s", time.Since(start).Seconds(), v.Status, evidenceLine(v))
		})
		if err != nil {
			return err
		}
		if err := env.Print(v, func(w io.Writer) { printSubmission(w, v) }); err != nil {
			return err
		}
		if v.Status == coordinator.Rejected || v.Status == coordinator.Failed || v.Status == coordinator.Overturned {
			return errors.New(string(v.Status) + ": " + deref(v.Reason))
		}
		return nil
	}
	return env.Print(v, func(w io.Writer) { fmt.Fprintf(w, "%s %s\n", v.ID, v.Status) })
}

func evidenceLine(v *coordinator.SubmissionView) string {
	var parts []string
	for _, e := range v.Evidence {
		parts = append(parts, fmt.Sprintf("%s %d/%d %s", e.Kind, e.Done, e.Chunks, e.Status))
	}
	if v.Reason != nil {
		parts = append(parts, *v.Reason)
	}
	return strings.Join(parts, ", ")
}

func status(ctx context.Context, env *cli.Env, args []string) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	pos, err := cli.Parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return cli.Usagef("vsc status ID")
	}
	v, err := client.New(env.API).Status(ctx, pos[0])
	if err != nil {
		return err
	}
	return env.Print(v, func(w io.Writer) { printSubmission(w, v) })
}

func printSubmission(w io.Writer, v *coordinator.SubmissionView) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "id\t%s\n", v.ID)
	fmt.Fprintf(tw, "status\t%s\n", v.Status)
	if v.Reason != nil {
		fmt.Fprintf(tw, "reason\t%s\n", *v.Reason)
	}
	fmt.Fprintf(tw, "idao / mode\t%s / %s\n", v.IDAO, v.Mode)
	fmt.Fprintf(tw, "contributor\t%s\n", v.Contributor.Hex())
	fmt.Fprintf(tw, "data hash\t%s\n", v.DataHash.Hex())
	fmt.Fprintf(tw, "commitment\t%s (%d records)\n", v.Commitment.Hex(), v.Records)
	for _, e := range v.Evidence {
		line := fmt.Sprintf("%s %d/%d", e.Status, e.Done, e.Chunks)
		if e.Reason != "" {
			line += ": " + e.Reason
		}
		fmt.Fprintf(tw, "evidence %s\t%s\n", e.Kind, line)
	}
	for _, vt := range v.Votes {
		verdict := "yes"
		if !vt.Approve {
			verdict = "no: " + vt.Reason
		}
		fmt.Fprintf(tw, "vote %s\tstake %s, %s\n", vt.Member.Hex(), vt.Stake, verdict)
	}
	if v.Anchor != nil {
		fmt.Fprintf(tw, "anchor\tblock %d, tx %s\n", v.Anchor.Block, v.Anchor.Tx.Hex())
	}
	if v.DATID != nil {
		fmt.Fprintf(tw, "dat\t%s\n", *v.DATID)
	}
	tw.Flush()
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func idaoList(ctx context.Context, env *cli.Env, args []string) error {
	daos, err := client.New(env.API).IDAOs(ctx)
	if err != nil {
		return err
	}
	return env.Print(map[string]any{"idaos": daos}, func(w io.Writer) {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tPOLICY\tMODES\tMEMBERS\tSTAKE")
		for _, d := range daos {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", d.Name, d.Policy, idao.JoinModes(d.Modes, ","), d.Members, d.Stake)
		}
		tw.Flush()
	})
}

func idaoShow(ctx context.Context, env *cli.Env, args []string) error {
	fs := flag.NewFlagSet("idao show", flag.ContinueOnError)
	pos, err := cli.Parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return cli.Usagef("vsc idao show NAME")
	}
	d, err := client.New(env.API).IDAO(ctx, pos[0])
	if err != nil {
		return err
	}
	return env.Print(d, func(w io.Writer) {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "name\t%s\npolicy\t%s (accepts %s)\nowner\t%s\nstake\t%s\nmin group size\t%d\n", d.Name, d.Policy, idao.JoinModes(d.Modes, ", "), d.Owner.Hex(), d.Stake, d.MinGroupSize)
		for _, m := range d.Members {
			fmt.Fprintf(tw, "member\t%s  stake %s\n", m.Address.Hex(), m.Stake)
		}
		if d.EnclaveKey != nil {
			fmt.Fprintf(tw, "enclave key\t%s\n", d.EnclaveKey.PublicKey)
		}
		for _, z := range d.ZKShapes {
			fmt.Fprintf(tw, "zk shape\t%d fields, chunks of %d, vk %s\n", z.Fields, z.Chunk, z.VKHash.Hex())
		}
		tw.Flush()
	})
}

// anchor is the trust anchor a submit runs with, and where it came from.
type anchor struct {
	chainID uint64
	path    string // the pin file
	pins    *pinFile
	seq     common.Address
	pinned  bool // it came from the pin file (not --sequencer, not first use)
}

// trustAnchor sets c.Trust's sequencer and minimum height: --sequencer
// (VSC_SEQUENCER) when given, else the sequencer pinned for the
// coordinator's chain id, else — on first use — the one the chain API
// names, said on stderr and pinned once its proofs verify.
func trustAnchor(ctx context.Context, env *cli.Env, c *client.Client, explicit string) (*anchor, error) {
	if explicit != "" && !common.IsHexAddress(explicit) {
		return nil, cli.Usagef("--sequencer %q is not a 0x address", explicit)
	}
	info, err := c.Info(ctx)
	if err != nil {
		return nil, err
	}
	path, err := pinPath(env)
	if err != nil {
		return nil, err
	}
	pins, err := loadPins(path)
	if err != nil {
		return nil, err
	}
	a := &anchor{chainID: info.ChainID, path: path, pins: pins}
	old := pins.get(info.ChainID)
	switch {
	case explicit != "":
		a.seq = common.HexToAddress(explicit)
	case old != nil:
		a.seq, a.pinned = old.Sequencer, true
	default:
		chainInfo, err := client.New(chainURL(c)).ChainInfo(ctx)
		if err != nil {
			return nil, fmt.Errorf("first use of chain %d: ask its sequencer: %w (or pass --sequencer ADDR)", info.ChainID, err)
		}
		if chainInfo.ChainID != info.ChainID {
			return nil, fmt.Errorf("the chain API at %s is chain %d, but the coordinator signs for chain %d: pass --chain URL of chain %d", chainURL(c), chainInfo.ChainID, info.ChainID, info.ChainID)
		}
		a.seq = chainInfo.Sequencer
		env.Progress("note: first use of chain %d: trusting its sequencer %s as %s names it, pinned in %s; pass --sequencer ADDR (or set VSC_SEQUENCER) to choose it yourself",
			info.ChainID, a.seq.Hex(), chainURL(c), path)
	}
	c.Trust.Sequencer = a.seq
	if old != nil && old.Sequencer == a.seq {
		c.Trust.MinHeight = old.Height
	}
	return a, nil
}

func chainURL(c *client.Client) string {
	if c.Chain != "" {
		return c.Chain
	}
	return c.BaseURL
}

// keep pins the anchor, with the highest block proven under it so far.
func (a *anchor) keep(env *cli.Env, height uint64) {
	p := a.pins.get(a.chainID)
	if p == nil || p.Sequencer != a.seq {
		p = &pin{Sequencer: a.seq, PinnedAt: time.Now().UTC()}
		a.pins.set(a.chainID, p)
	}
	p.Height = max(p.Height, height)
	if err := a.pins.save(a.path); err != nil {
		env.Progress("warning: %v", err)
	}
}

// explain adds what to do to a refusal of chain state signed by another
// sequencer than the pinned one.
func (a *anchor) explain(err error) error {
	var te *client.TrustError
	if a.pinned && errors.As(err, &te) && errors.Is(te, client.ErrWrongSequencer) {
		return fmt.Errorf("%w (sequencer %s is pinned for chain %d in %s; if that chain was reset on purpose, pass --sequencer %s to trust the new one)",
			err, a.seq.Hex(), a.chainID, a.path, te.Proposer.Hex())
	}
	return err
}
