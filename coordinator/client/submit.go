package client

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/coordinator"
	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/internal/codes"
	"github.com/vsc-labs/vsc/internal/eip712"
	"github.com/vsc-labs/vsc/internal/envelope"
	"github.com/vsc-labs/vsc/internal/records"
	"github.com/vsc-labs/vsc/internal/submission"
)

// Info is the coordinator's chain id and limits.
type Info struct {
	ChainID uint64 `json:"chain_id"`
	MaxBlob int64  `json:"max_blob"`
	ZKChunk int    `json:"zk_chunk"`
}

// Info fetches GET /v1/info.
func (c *Client) Info(ctx context.Context) (*Info, error) {
	var i Info
	return &i, c.getJSON(ctx, "/v1/info", &i)
}

// IDAO fetches one iDAO.
func (c *Client) IDAO(ctx context.Context, name string) (*coordinator.IDAOView, error) {
	var v coordinator.IDAOView
	return &v, c.getJSON(ctx, "/v1/idaos/"+url.PathEscape(name), &v)
}

// IDAOs lists every iDAO, by name (following every page).
func (c *Client) IDAOs(ctx context.Context) ([]coordinator.IDAOSummary, error) {
	return listAll(ctx, c, "/v1/idaos",
		func(l *coordinator.IDAOList) []coordinator.IDAOSummary { return l.IDAOs },
		func(l *coordinator.IDAOList) string { return l.Next })
}

// NextNonce returns the nonce addr must sign with next.
func (c *Client) NextNonce(ctx context.Context, addr common.Address) (uint64, error) {
	var a coordinator.AccountView
	err := c.getJSON(ctx, "/v1/accounts/"+addr.Hex(), &a)
	return a.NextNonce, err
}

// Status fetches a submission.
func (c *Client) Status(ctx context.Context, id string) (*coordinator.SubmissionView, error) {
	var v coordinator.SubmissionView
	return &v, c.getJSON(ctx, "/v1/submissions/"+id, &v)
}

// Prepared is a submission encrypted and ready to sign: what `vsc submit
// --prepare` writes for wallets and hardware keys.
type Prepared struct {
	ChainID    uint64                `json:"chain_id"`
	Submission submission.Submission `json:"submission"`
	WrappedKey hexutil.Bytes         `json:"wrapped_key"`
	EnclaveKey hexutil.Bytes         `json:"enclave_key"`
	TypedData  eip712.TypedData      `json:"typed_data"` // exactly what eth_signTypedData_v4 takes
	Digest     common.Hash           `json:"digest"`     // the EIP-712 digest = the submission id
	BlobFile   string                `json:"blob_file,omitempty"`
	Uploaded   bool                  `json:"uploaded"`
	// ProvenAt is the block under which the iDAO's policy and the enclave
	// key were proven (0: PrepareFor, nothing proven).
	ProvenAt uint64 `json:"proven_at,omitempty"`
	// Simulation says the TEE policy checked accepts simulated enclaves
	// (allowed by Trust.AllowSimulation).
	Simulation bool `json:"simulation,omitempty"`
	blob       []byte
}

// Blob returns the ciphertext (when prepared in this process).
func (p *Prepared) Blob() []byte { return p.blob }

// PrepareOptions say where and how to submit.
type PrepareOptions struct {
	IDAO        string
	Mode        idao.Mode // "" = the iDAO's policy
	Class       string    // "" = dataset
	Contributor common.Address
	Nonce       *uint64 // nil = ask the coordinator
}

// Prepare parses and commits the dataset, finds the enclave key to wrap the
// data key to — registered on chain for the iDAO and attested under its TEE
// policy, both proven against c.Trust (TrustedEnclave) — encrypts, and
// builds the submission to sign. Bad datasets and untrusted enclaves fail
// here, before anything is sent.
func (c *Client) Prepare(ctx context.Context, data []byte, o PrepareOptions) (*Prepared, error) {
	ds, err := records.Parse(data)
	if err != nil {
		return nil, err
	}
	info, err := c.Info(ctx)
	if err != nil {
		return nil, err
	}
	// the coordinator's view says which enclave key its workers hold: a
	// hint, believed only once the chain proves it
	dao, err := c.IDAO(ctx, o.IDAO)
	if err != nil {
		return nil, err
	}
	var hint []byte
	if dao.EnclaveKey != nil && len(dao.EnclaveKey.PublicKey) > 0 {
		hint = dao.EnclaveKey.PublicKey
	}
	pub, v, policy, err := c.TrustedEnclave(ctx, o.IDAO, hint)
	if err != nil {
		return nil, err
	}
	if o.Mode == "" && len(v.IDAO.Policy.Modes) > 0 {
		o.Mode = v.IDAO.Policy.Modes[0]
	}
	if err := CheckZKShape(&v.IDAO.Policy, o.IDAO, o.Mode, len(ds.Fields)); err != nil {
		return nil, err
	}
	p, err := c.PrepareFor(ctx, ds, pub, info.ChainID, o)
	if err != nil {
		return nil, err
	}
	p.ProvenAt, p.Simulation = v.Header.Height, policy.AllowSimulation
	return p, nil
}

// CheckZKShape refuses, before anything is encrypted or sent, a dataset of
// fields fields that none of the iDAO's zk shapes fits when mode has zk
// evidence (codes.ZKShapeMissing, naming the shapes it accepts).
func CheckZKShape(p *idao.Policy, name string, mode idao.Mode, fields int) error {
	if !mode.Needs(idao.KindZK) || len(p.ZKShapes) == 0 {
		return nil
	}
	if _, ok := p.ZKShapeFor(uint32(fields)); ok {
		return nil
	}
	return codes.New(codes.ZKShapeMissing, "iDAO %q has no zk circuit for %d-field records: in mode %s it accepts %s; nothing was uploaded (submit with --mode tee, or reshape the dataset)",
		name, fields, mode, p.DescribeZKShapes())
}

// PrepareFor is Prepare with the dataset parsed and the enclave key known.
func (c *Client) PrepareFor(ctx context.Context, ds *records.Dataset, enclave *ecdsa.PublicKey, chainID uint64, o PrepareOptions) (*Prepared, error) {
	if o.Class == "" {
		o.Class = "dataset"
	}
	nonce := o.Nonce
	if nonce == nil {
		n, err := c.NextNonce(ctx, o.Contributor)
		if err != nil {
			return nil, err
		}
		nonce = &n
	}
	plain := Canonical(ds)
	sealed, err := envelope.Seal(plain, enclave)
	if err != nil {
		return nil, err
	}
	p := &Prepared{ChainID: chainID, WrappedKey: sealed.WrappedKey, EnclaveKey: crypto.FromECDSAPub(enclave), blob: sealed.Blob}
	p.Submission = submission.Submission{IDAO: o.IDAO, Mode: o.Mode, Class: o.Class, Contributor: o.Contributor,
		DataHash: sealed.DataHash, Commitment: records.Commitment(ds), Records: uint64(ds.Len()),
		WrappedKeyHash: sealed.WrappedKeyHash(), Nonce: *nonce, Fields: uint32(len(ds.Fields))}
	p.TypedData = p.Submission.TypedData(chainID)
	p.Digest = p.Submission.Digest(chainID)
	return p, nil
}

// Canonical re-encodes a dataset as CSV, the exact plaintext that is
// encrypted (so what the enclave parses is what the client committed to).
func Canonical(ds *records.Dataset) []byte {
	var b bytes.Buffer
	for i, f := range ds.Fields {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(f)
	}
	b.WriteByte('\n')
	var num [24]byte
	for _, r := range ds.Records {
		for i, v := range r {
			if i > 0 {
				b.WriteByte(',')
			}
			b.Write(fmtInt(num[:0], v))
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func fmtInt(dst []byte, v int64) []byte { return strconv.AppendInt(dst, v, 10) }

// Sign signs a prepared submission with a local key.
func (p *Prepared) Sign(key *ecdsa.PrivateKey) ([]byte, error) {
	return p.Submission.Sign(p.ChainID, key)
}

// Request builds the API request body for a signed prepared submission.
func (p *Prepared) Request(sig []byte) *coordinator.SubmitRequest {
	return &coordinator.SubmitRequest{Submission: p.Submission, Signature: sig, WrappedKey: p.WrappedKey, EnclaveKey: p.EnclaveKey}
}

// UploadBlob stores the ciphertext ahead of the signed submission (the
// wallet flow).
func (c *Client) UploadBlob(ctx context.Context, dataHash common.Hash, blob []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, c.BaseURL+"/v1/blobs/"+dataHash.Hex(), bytes.NewReader(blob))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	_, err = c.do(req, nil)
	return err
}

// Submit sends a signed submission with its blob in one multipart request
// (blob nil: it was uploaded before). It returns the view and whether it was
// new (false: the same submission had been accepted before).
func (c *Client) Submit(ctx context.Context, r *coordinator.SubmitRequest, blob []byte) (*coordinator.SubmissionView, bool, error) {
	body, ctype, err := MultipartBody(r, blob)
	if err != nil {
		return nil, false, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.BaseURL+"/v1/submissions", bytes.NewReader(body))
	if err != nil {
		return nil, false, err
	}
	req.Header.Set("Content-Type", ctype)
	var v coordinator.SubmissionView
	code, err := c.do(req, &v)
	return &v, code == http.StatusCreated, err
}

// MultipartBody encodes a submit request (exported for load generators that
// prepare bodies before the clock starts).
func MultipartBody(r *coordinator.SubmitRequest, blob []byte) ([]byte, string, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="submission"`)
	h.Set("Content-Type", "application/json")
	pw, err := mw.CreatePart(h)
	if err != nil {
		return nil, "", err
	}
	if err := json.NewEncoder(pw).Encode(r); err != nil {
		return nil, "", err
	}
	if blob != nil {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="blob"; filename="blob"`)
		h.Set("Content-Type", "application/octet-stream")
		bw, err := mw.CreatePart(h)
		if err != nil {
			return nil, "", err
		}
		if _, err := bw.Write(blob); err != nil {
			return nil, "", err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, "", err
	}
	return buf.Bytes(), mw.FormDataContentType(), nil
}

// Wait polls a submission until it reaches a final state (or, if until is
// non-empty, that status), calling progress on every change.
func (c *Client) Wait(ctx context.Context, id string, until coordinator.Status, progress func(*coordinator.SubmissionView)) (*coordinator.SubmissionView, error) {
	var last string
	delay := 50 * time.Millisecond
	for {
		v, err := c.Status(ctx, id)
		if err != nil {
			return nil, err
		}
		key := string(v.Status) + fmt.Sprint(evidenceDone(v))
		if key != last && progress != nil {
			progress(v)
		}
		last = key
		if v.Status.Final() || (until != "" && v.Status == until) {
			return v, nil
		}
		select {
		case <-ctx.Done():
			return v, fmt.Errorf("stopped waiting for %s in status %s: %w", id, v.Status, ctx.Err())
		case <-time.After(delay):
		}
		delay = min(delay*2, 500*time.Millisecond)
	}
}

func evidenceDone(v *coordinator.SubmissionView) []int {
	out := make([]int, len(v.Evidence))
	for i, e := range v.Evidence {
		out[i] = e.Done
	}
	return out
}

// SavePrepared writes a prepared submission (and its blob beside it).
func SavePrepared(path string, p *Prepared) error {
	if p.BlobFile == "" {
		p.BlobFile = path + ".blob"
	}
	if p.blob != nil { // a streamed prepare wrote its blob file already
		if err := os.WriteFile(p.BlobFile, p.blob, 0o600); err != nil {
			return err
		}
	}
	data, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o600)
}

// LoadPrepared reads a prepared submission written by SavePrepared.
func LoadPrepared(path string) (*Prepared, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var p Prepared
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("%s is not a prepared submission: %w", path, err)
	}
	if p.Submission.Digest(p.ChainID) != p.Digest {
		return nil, fmt.Errorf("%s was edited: its submission no longer hashes to its digest", path)
	}
	if p.BlobFile != "" && !p.Uploaded {
		st, err := os.Stat(p.BlobFile)
		if err != nil {
			return nil, fmt.Errorf("prepared blob: %w", err)
		}
		if st.Size() <= StreamAbove { // a larger one is uploaded from its file (UploadBlobFile)
			if p.blob, err = os.ReadFile(p.BlobFile); err != nil {
				return nil, fmt.Errorf("prepared blob: %w", err)
			}
		}
	}
	return &p, nil
}
