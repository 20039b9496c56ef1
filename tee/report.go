package tee

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/edgelesssys/ego/attestation/tcbstatus"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
)

// Backend names, as they appear in Attestation.Backend.
const (
	BackendSim = "sim"
	BackendEgo = "ego"
)

// ReportDataSize is the size of an SGX report's data field.
const ReportDataSize = 64

// Report is a verified enclave report: the fields of ego's
// attestation.Report, plus whether it came from the simulation backend.
type Report struct {
	Data            []byte           `json:"data"`             // the 64 bytes of report data
	SecurityVersion uint             `json:"security_version"` // ISVSVN
	Debug           bool             `json:"debug"`
	UniqueID        []byte           `json:"unique_id"`  // MRENCLAVE
	SignerID        []byte           `json:"signer_id"`  // MRSIGNER
	ProductID       []byte           `json:"product_id"` // ISVPRODID, little-endian, zero-padded
	TCBStatus       tcbstatus.Status `json:"tcb_status"`
	TCBAdvisories   []string         `json:"tcb_advisories,omitempty"`
	// Simulated is set by verification for simulation-backend reports; it is
	// never read from the report bytes.
	Simulated bool `json:"simulated"`
}

// Attestation is a report as it travels: which backend made it, and its
// bytes (ego: the SGX remote report from enclave.GetRemoteReport; sim: a
// simulation report, see EncodeSimReport).
type Attestation struct {
	Backend string        `json:"backend"`
	Report  hexutil.Bytes `json:"report"`
}

// VerifyReport checks the attestation's signature chain, decodes it and
// applies the policy. It returns the report so the caller can check the
// report data.
func VerifyReport(p Policy, a Attestation) (*Report, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	var (
		r   *Report
		err error
	)
	switch a.Backend {
	case BackendSim:
		if !p.AllowSimulation {
			return nil, ErrSimulation
		}
		r, err = verifySimReport(p, a.Report)
	case BackendEgo:
		r, _, err = decodeCached(a, func() (*Report, common.Address, error) {
			r, err := verifyEgoReport(a.Report)
			return r, common.Address{}, err
		})
	default:
		return nil, fmt.Errorf("%w: unknown backend %q", ErrMalformed, a.Backend)
	}
	if err != nil {
		return nil, err
	}
	if err := p.Check(r); err != nil {
		return nil, err
	}
	return r, nil
}

// checkData reports whether the report data is exactly want (zero-padded to 64 bytes).
func checkData(data []byte, want [ReportDataSize]byte) bool {
	if len(data) > ReportDataSize {
		return false
	}
	var got [ReportDataSize]byte
	copy(got[:], data)
	return got == want
}

// The simulation report. Layout (all integers big-endian):
//
//	body = "vsc-sim-report-v1" ‖ u16 len ‖ data ‖ u64 svn ‖ u8 debug ‖
//	       u16 len ‖ uniqueID ‖ u16 len ‖ signerID ‖ u16 len ‖ productID ‖
//	       u32 tcb ‖ u16 n ‖ n × (u16 len ‖ advisory)
//	report = body ‖ root address (20) ‖ sig (65)
//	sig = secp256k1 signature by the root of keccak256("vsc-sim-report-sig-v1" ‖ body ‖ root)
//
// The signature is checked before the body is decoded, so any flipped bit
// anywhere is ErrReportSignature, and a consistent report by another root is
// ErrUntrustedRoot.
var (
	simMagic  = []byte("vsc-sim-report-v1")
	simSigDom = []byte("vsc-sim-report-sig-v1")
)

const simTrailer = common.AddressLength + crypto.SignatureLength

func simSigHash(body []byte, root common.Address) []byte {
	return crypto.Keccak256(simSigDom, body, root[:])
}

func encodeSimBody(r *Report) ([]byte, error) {
	out := append([]byte(nil), simMagic...)
	put := func(b []byte) error {
		if len(b) > 0xffff {
			return errors.New("field too long")
		}
		out = binary.BigEndian.AppendUint16(out, uint16(len(b)))
		out = append(out, b...)
		return nil
	}
	if err := put(r.Data); err != nil {
		return nil, err
	}
	out = binary.BigEndian.AppendUint64(out, uint64(r.SecurityVersion))
	if r.Debug {
		out = append(out, 1)
	} else {
		out = append(out, 0)
	}
	for _, b := range [][]byte{r.UniqueID, r.SignerID, r.ProductID} {
		if err := put(b); err != nil {
			return nil, err
		}
	}
	out = binary.BigEndian.AppendUint32(out, uint32(r.TCBStatus))
	if len(r.TCBAdvisories) > 0xffff {
		return nil, errors.New("too many advisories")
	}
	out = binary.BigEndian.AppendUint16(out, uint16(len(r.TCBAdvisories)))
	for _, a := range r.TCBAdvisories {
		if err := put([]byte(a)); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func decodeSimBody(b []byte) (*Report, error) {
	if !bytes.HasPrefix(b, simMagic) {
		return nil, errors.New("not a simulation report")
	}
	b = b[len(simMagic):]
	short := errors.New("truncated simulation report")
	get := func() ([]byte, error) {
		if len(b) < 2 {
			return nil, short
		}
		n := int(binary.BigEndian.Uint16(b))
		if len(b) < 2+n {
			return nil, short
		}
		v := append([]byte(nil), b[2:2+n]...)
		b = b[2+n:]
		return v, nil
	}
	r := &Report{}
	var err error
	if r.Data, err = get(); err != nil {
		return nil, err
	}
	if len(b) < 9 {
		return nil, short
	}
	r.SecurityVersion = uint(binary.BigEndian.Uint64(b))
	switch b[8] {
	case 0:
	case 1:
		r.Debug = true
	default:
		return nil, errors.New("bad debug flag")
	}
	b = b[9:]
	for _, dst := range []*[]byte{&r.UniqueID, &r.SignerID, &r.ProductID} {
		if *dst, err = get(); err != nil {
			return nil, err
		}
	}
	if len(b) < 6 {
		return nil, short
	}
	r.TCBStatus = tcbstatus.Status(binary.BigEndian.Uint32(b))
	n := int(binary.BigEndian.Uint16(b[4:]))
	b = b[6:]
	for range n {
		a, err := get()
		if err != nil {
			return nil, err
		}
		r.TCBAdvisories = append(r.TCBAdvisories, string(a))
	}
	if len(b) != 0 {
		return nil, errors.New("trailing bytes after the simulation report")
	}
	return r, nil
}

// EncodeSimReport signs r with the simulation root key. Exported for tests
// and tools that need to forge reports; the sim backend is its only user.
func EncodeSimReport(r *Report, root *SimRoot) ([]byte, error) {
	body, err := encodeSimBody(r)
	if err != nil {
		return nil, fmt.Errorf("encode simulation report: %w", err)
	}
	addr := root.Address()
	sig, err := crypto.Sign(simSigHash(body, addr), root.key)
	if err != nil {
		return nil, fmt.Errorf("sign simulation report: %w", err)
	}
	out := append(body, addr[:]...)
	return append(out, sig...), nil
}

// DecodeSimReport checks a simulation report's signature and decodes it,
// returning the root that signed it. Whether that root is trusted is the
// policy's business.
func DecodeSimReport(raw []byte) (*Report, common.Address, error) {
	if len(raw) < len(simMagic)+simTrailer {
		return nil, common.Address{}, fmt.Errorf("%w: simulation report too short", ErrMalformed)
	}
	body := raw[:len(raw)-simTrailer]
	root := common.BytesToAddress(raw[len(body) : len(body)+common.AddressLength])
	sig := raw[len(raw)-crypto.SignatureLength:]
	pub, err := crypto.SigToPub(simSigHash(body, root), sig)
	if err != nil || crypto.PubkeyToAddress(*pub) != root {
		return nil, root, ErrReportSignature
	}
	r, err := decodeSimBody(body)
	if err != nil {
		return nil, root, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	r.Simulated = true
	return r, root, nil
}

func verifySimReport(p Policy, raw []byte) (*Report, error) {
	r, root, err := decodeCached(Attestation{Backend: BackendSim, Report: raw}, func() (*Report, common.Address, error) {
		return DecodeSimReport(raw)
	})
	if err != nil {
		return nil, err
	}
	if !p.trustsRoot(root) {
		return nil, fmt.Errorf("%w: %s", ErrUntrustedRoot, root.Hex())
	}
	return r, nil
}

// Verified reports, by backend and bytes: the signature chain of a report
// (an SGX quote, a simulation root's signature) is checked once however many
// results it attests (an enclave attests a batch of results with one
// report). Only successful decodings are kept, and the policy is applied on
// every use. The cache is emptied when it grows past its bound.
var reportCache = struct {
	sync.Mutex
	m map[common.Hash]cachedReport
}{m: map[common.Hash]cachedReport{}}

type cachedReport struct {
	r    Report
	root common.Address
}

const reportCacheMax = 4096

func decodeCached(a Attestation, decode func() (*Report, common.Address, error)) (*Report, common.Address, error) {
	k := crypto.Keccak256Hash([]byte(a.Backend), []byte{0}, a.Report)
	reportCache.Lock()
	c, ok := reportCache.m[k]
	reportCache.Unlock()
	if ok {
		r := c.r
		return &r, c.root, nil
	}
	r, root, err := decode()
	if err != nil {
		return nil, root, err
	}
	reportCache.Lock()
	if len(reportCache.m) >= reportCacheMax {
		clear(reportCache.m)
	}
	reportCache.m[k] = cachedReport{r: *r, root: root}
	reportCache.Unlock()
	return r, root, nil
}
