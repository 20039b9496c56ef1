package tee

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/edgelesssys/ego/attestation/tcbstatus"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
)

// Policy is the measurement policy an enclave report must meet. One type is
// used by the client (before it wraps a data key), by every quorum member and
// by the chain (inside the iDAO's policy, idao.Policy.TEEPolicy); a member may
// override its iDAO's policy with its own.
//
// Identity: when UniqueIDs is set, the report's UniqueID (MRENCLAVE) must be
// one of them; when SignerID is set, the report's SignerID (MRSIGNER) and
// ProductID must equal SignerID and ProductID. At least one of the two rules
// must be set; both may be (then both hold).
//
// The zero values are strict: debug enclaves refused, only an UpToDate TCB,
// simulation refused.
type Policy struct {
	UniqueIDs          []hexutil.Bytes `json:"unique_ids,omitempty"`
	SignerID           hexutil.Bytes   `json:"signer_id,omitempty"`
	ProductID          uint16          `json:"product_id"`
	MinSecurityVersion uint            `json:"min_security_version"`
	// AllowDebug accepts debug enclaves; only for development on SGX hardware.
	AllowDebug bool `json:"allow_debug,omitempty"`
	// AcceptTCB lists the TCB statuses accepted (names of ego's
	// tcbstatus.Status, e.g. "UpToDate", "SWHardeningNeeded"); empty means
	// ["UpToDate"].
	AcceptTCB []string `json:"accept_tcb,omitempty"`
	// AllowSimulation accepts reports of the simulation backend. Never in
	// production: a simulation report proves nothing about confidentiality.
	AllowSimulation bool `json:"allow_simulation"`
	// SimulationRoots are the addresses of the simulation root keys trusted
	// when AllowSimulation is set (each devnet and each sim worker makes its
	// own; `vscd worker --show-policy` prints it). Required with
	// AllowSimulation: no root is trusted by default.
	SimulationRoots []common.Address `json:"simulation_roots,omitempty"`
}

// ParsePolicy decodes a JSON policy (as stored in an iDAO's tee_policy) and validates it.
func ParsePolicy(raw []byte) (Policy, error) {
	var p Policy
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return Policy{}, fmt.Errorf("%w: %v", ErrPolicy, err)
	}
	if err := p.Validate(); err != nil {
		return Policy{}, err
	}
	return p, nil
}

// Validate checks that the policy pins a measurement and names known TCB statuses.
func (p *Policy) Validate() error {
	if len(p.UniqueIDs) == 0 && len(p.SignerID) == 0 {
		return fmt.Errorf("%w: set unique_ids or signer_id (+ product_id)", ErrPolicy)
	}
	if p.AllowSimulation && len(p.SimulationRoots) == 0 {
		return fmt.Errorf("%w: allow_simulation needs simulation_roots, the addresses of the simulation roots to trust (`vscd worker --show-policy` prints a sim worker's)", ErrPolicy)
	}
	for _, s := range p.AcceptTCB {
		if _, ok := tcbByName[s]; !ok {
			return fmt.Errorf("%w: unknown TCB status %q", ErrPolicy, s)
		}
	}
	return nil
}

var tcbByName = func() map[string]tcbstatus.Status {
	m := map[string]tcbstatus.Status{}
	for s := tcbstatus.UpToDate; s <= tcbstatus.Unknown; s++ {
		m[s.String()] = s
	}
	return m
}()

func (p *Policy) acceptsTCB(s tcbstatus.Status) bool {
	if len(p.AcceptTCB) == 0 {
		return s == tcbstatus.UpToDate
	}
	for _, name := range p.AcceptTCB {
		if tcbByName[name] == s {
			return true
		}
	}
	return false
}

func (p *Policy) trustsRoot(a common.Address) bool {
	for _, r := range p.SimulationRoots {
		if r == a {
			return true
		}
	}
	return false
}

// productID decodes a report's ProductID: SGX's ISVPRODID is a 16-bit
// little-endian number; ego pads it to 16 bytes with zeros.
func productID(b []byte) (uint16, bool) {
	if len(b) < 2 {
		return 0, false
	}
	for _, c := range b[2:] {
		if c != 0 {
			return 0, false
		}
	}
	return binary.LittleEndian.Uint16(b), true
}

// Check applies the policy to a report whose signature has been verified.
// The order is fixed so each report meets one error: simulation, debug,
// identity, security version, TCB status.
func (p *Policy) Check(r *Report) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if r.Simulated && !p.AllowSimulation {
		return ErrSimulation
	}
	if r.Debug && !p.AllowDebug {
		return ErrDebug
	}
	if len(p.UniqueIDs) > 0 {
		ok := false
		for _, id := range p.UniqueIDs {
			if bytes.Equal(id, r.UniqueID) {
				ok = true
				break
			}
		}
		if !ok {
			return fmt.Errorf("%w: %x", ErrUniqueID, r.UniqueID)
		}
	}
	if len(p.SignerID) > 0 {
		if !bytes.Equal(p.SignerID, r.SignerID) {
			return fmt.Errorf("%w: %x", ErrSignerID, r.SignerID)
		}
		if id, ok := productID(r.ProductID); !ok || id != p.ProductID {
			return fmt.Errorf("%w: %x, want %d", ErrProductID, r.ProductID, p.ProductID)
		}
	}
	if r.SecurityVersion < p.MinSecurityVersion {
		return fmt.Errorf("%w: %d < %d", ErrSecurityVersion, r.SecurityVersion, p.MinSecurityVersion)
	}
	if !p.acceptsTCB(r.TCBStatus) {
		return fmt.Errorf("%w: %s (%s)", ErrTCBStatus, r.TCBStatus, tcbstatus.Explain(r.TCBStatus))
	}
	return nil
}
