package client

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/coordinator"
	"github.com/vsc-labs/vsc/internal/codes"
	"github.com/vsc-labs/vsc/internal/envelope"
	"github.com/vsc-labs/vsc/internal/records"
	"github.com/vsc-labs/vsc/internal/submission"
)

// StreamAbove is the dataset file size beyond which `vsc submit` streams:
// it encrypts in chunks into a blob file and uploads that with PUT
// /v1/blobs before the submission, in bounded memory. A variable only so
// that tests may lower it before they run.
var StreamAbove int64 = 32 << 20

// PrepareFile is Prepare for a dataset file of any size, in bounded memory:
// one pass reads, parses, commits (records.Committer, every core) and
// re-encodes the records canonically into the chunked envelope, written to
// blobFile (hashed as it is written). The checks are Prepare's, and a
// dataset no zk shape of the iDAO fits is refused at its header, before
// anything is uploaded.
func (c *Client) PrepareFile(ctx context.Context, path, blobFile string, o PrepareOptions) (*Prepared, error) {
	info, err := c.Info(ctx)
	if err != nil {
		return nil, err
	}
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
	if o.Class == "" {
		o.Class = "dataset"
	}
	sealed, err := sealFile(path, blobFile, pub, func(fields int) error { return CheckZKShape(&v.IDAO.Policy, o.IDAO, o.Mode, fields) })
	if err != nil {
		return nil, err
	}
	nonce := o.Nonce
	if nonce == nil {
		n, err := c.NextNonce(ctx, o.Contributor)
		if err != nil {
			return nil, err
		}
		nonce = &n
	}
	p := &Prepared{ChainID: info.ChainID, WrappedKey: sealed.wrapped, EnclaveKey: crypto.FromECDSAPub(pub), BlobFile: blobFile}
	p.Submission = submission.Submission{IDAO: o.IDAO, Mode: o.Mode, Class: o.Class, Contributor: o.Contributor,
		DataHash: sealed.dataHash, Commitment: sealed.commitment, Records: uint64(sealed.records),
		WrappedKeyHash: crypto.Keccak256Hash(sealed.wrapped), Nonce: *nonce, Fields: uint32(sealed.fields)}
	p.TypedData = p.Submission.TypedData(info.ChainID)
	p.Digest = p.Submission.Digest(info.ChainID)
	p.ProvenAt, p.Simulation = v.Header.Height, policy.AllowSimulation
	return p, nil
}

type sealedFile struct {
	dataHash, commitment common.Hash
	wrapped              []byte
	records, fields      int
}

// sealFile is PrepareFile's one pass over the dataset.
func sealFile(path, blobFile string, pub *ecdsa.PublicKey, checkFields func(int) error) (*sealedFile, error) {
	in, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read dataset: %w", err)
	}
	defer in.Close()
	out, err := os.OpenFile(blobFile, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("blob file: %w", err)
	}
	defer out.Close()
	key := make([]byte, envelope.KeySize)
	defer clear(key)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	h := crypto.NewKeccakState()
	bw := bufio.NewWriterSize(io.MultiWriter(out, h), 1<<20)
	ew, err := envelope.NewWriter(bw, key, envelope.DefaultChunkSize)
	if err != nil {
		return nil, err
	}
	pw := bufio.NewWriterSize(ew, 1<<20)
	var cm *records.Committer
	fields, n, err := records.Scan(in, func(fields []string, recs [][]int64) error {
		if cm == nil {
			if err := checkFields(len(fields)); err != nil {
				return err
			}
			cm = records.NewCommitter(len(fields))
			writeHeader(pw, fields)
		}
		writeRecords(pw, recs)
		return cm.Add(recs)
	})
	if err != nil {
		return nil, err
	}
	if err := pw.Flush(); err != nil {
		return nil, err
	}
	if err := ew.Close(); err != nil {
		return nil, err
	}
	if err := bw.Flush(); err != nil {
		return nil, fmt.Errorf("blob file: %w", err)
	}
	if err := out.Close(); err != nil {
		return nil, fmt.Errorf("blob file: %w", err)
	}
	s := &sealedFile{commitment: cm.Commitment(), records: n, fields: len(fields)}
	h.Read(s.dataHash[:])
	if s.wrapped, err = envelope.Wrap(key, s.dataHash, pub); err != nil {
		return nil, err
	}
	return s, nil
}

// writeHeader and writeRecords write the canonical CSV (Canonical's).
func writeHeader(w *bufio.Writer, fields []string) {
	for i, f := range fields {
		if i > 0 {
			w.WriteByte(',')
		}
		w.WriteString(f)
	}
	w.WriteByte('\n')
}

func writeRecords(w *bufio.Writer, recs [][]int64) {
	var num [24]byte
	for _, r := range recs {
		for i, v := range r {
			if i > 0 {
				w.WriteByte(',')
			}
			w.Write(strconv.AppendInt(num[:0], v, 10))
		}
		w.WriteByte('\n')
	}
}

// UploadBlobFile streams a blob file to PUT /v1/blobs/{hash}, calling
// progress (if set) with the bytes sent as it goes. A failed upload is
// retried from its start up to three times, a second apart.
func (c *Client) UploadBlobFile(ctx context.Context, dataHash common.Hash, path string, progress func(sent, total int64)) error {
	var err error
	for attempt := range 3 {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Second):
			}
		}
		if err = c.uploadOnce(ctx, dataHash, path, progress); err == nil || CodeOf(err) != 0 {
			return err // done, or refused by the coordinator: a retry gives the same answer
		}
	}
	return err
}

func (c *Client) uploadOnce(ctx context.Context, dataHash common.Hash, path string, progress func(sent, total int64)) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if st.Size() > coordinator.BlobPartSize {
		return c.uploadParts(ctx, dataHash, f, st.Size(), progress)
	}
	body := &progressReader{r: f, total: st.Size(), fn: progress}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, c.BaseURL+"/v1/blobs/"+dataHash.Hex(), body)
	if err != nil {
		return err
	}
	req.ContentLength = st.Size()
	req.Header.Set("Content-Type", "application/octet-stream")
	_, err = c.do(req, nil)
	return err
}

// uploadParts uploads a blob file in parts (PUT /v1/blobs/{hash}/parts/{n}),
// skipping the parts the coordinator already holds — an upload cut short,
// by this process or an earlier one, resumes at its first missing part —
// and then has the coordinator put them together.
func (c *Client) uploadParts(ctx context.Context, h common.Hash, f *os.File, size int64, progress func(sent, total int64)) error {
	v, err := get[coordinator.PartsView](ctx, c, "/v1/blobs/"+h.Hex()+"/parts")
	if err != nil {
		return err
	}
	if v.Stored {
		if progress != nil {
			progress(size, size)
		}
		return nil
	}
	have := map[int]bool{}
	if v.Size == size {
		for _, n := range v.Have {
			have[n] = true
		}
	}
	var sent int64
	for n := range coordinator.BlobParts(size) {
		off := int64(n) * coordinator.BlobPartSize
		part := min(int64(coordinator.BlobPartSize), size-off)
		if !have[n] {
			done, err := c.putPart(ctx, h, n, size, io.NewSectionReader(f, off, part), part)
			if err != nil {
				return fmt.Errorf("upload part %d of %d: %w", n, coordinator.BlobParts(size), err)
			}
			if done { // a submission holds the blob already
				break
			}
		}
		sent += part
		if progress != nil {
			progress(sent, size)
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.BaseURL+"/v1/blobs/"+h.Hex()+"/complete", nil)
	if err != nil {
		return err
	}
	_, err = c.do(req, nil)
	if CodeOf(err) == codes.BlobMissing && sent < size { // the blob was stored whole after all
		return nil
	}
	return err
}

// putPart sends one part; done: the coordinator holds the whole blob.
func (c *Client) putPart(ctx context.Context, h common.Hash, n int, size int64, r io.Reader, length int64) (done bool, err error) {
	u := fmt.Sprintf("%s/v1/blobs/%s/parts/%d?size=%d", c.BaseURL, h.Hex(), n, size)
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u, r)
	if err != nil {
		return false, err
	}
	req.ContentLength = length
	req.Header.Set("Content-Type", "application/octet-stream")
	var out struct {
		Part *int `json:"part"`
	}
	if _, err := c.do(req, &out); err != nil {
		return false, err
	}
	return out.Part == nil, nil
}

type progressReader struct {
	r         io.Reader
	sent      int64
	total     int64
	lastShown int64
	fn        func(sent, total int64)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.sent += int64(n)
	if p.fn != nil && (p.sent-p.lastShown >= 16<<20 || (err == io.EOF && p.sent != p.lastShown)) {
		p.lastShown = p.sent
		p.fn(p.sent, p.total)
	}
	return n, err
}
