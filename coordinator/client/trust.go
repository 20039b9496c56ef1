package client

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"net/url"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/chain/proof"
	"github.com/vsc-labs/vsc/chain/state"
	"github.com/vsc-labs/vsc/internal/codes"
	"github.com/vsc-labs/vsc/tee"
)

// Trust is what the client believes without asking any API: the sequencer
// whose signature on a block header makes a state proof under it
// believable, and what the contributor accepts of an enclave. Prepare reads
// the iDAO's TEE policy and its registered enclave keys from chain state
// through proofs checked against Sequencer, never from the coordinator's or
// the chain API's unproven word.
type Trust struct {
	// Sequencer is the chain's sequencer address, known from elsewhere (the
	// genesis, the devnet's banner, a pin made on first use). Required.
	Sequencer common.Address
	// MinHeight refuses proofs under headers older than this block: a client
	// that saw block N never believes an older state again (an API that
	// replays an old, genuinely signed head, from before a policy was
	// tightened, is refused).
	MinHeight uint64
	// TEEPolicy replaces the iDAO's on-chain TEE policy with the
	// contributor's own (nil: the proven on-chain policy).
	TEEPolicy *tee.Policy
	// AllowSimulation accepts a TEE policy that accepts simulated enclaves.
	// Without it such a policy is refused: a simulated enclave's memory is
	// open to its host, so the data key would protect nothing.
	AllowSimulation bool
}

// Sentinel errors of the trust checks (each refusal is a *TrustError that
// also carries a stable code).
var (
	ErrNoSequencer          = errors.New("no trusted sequencer")
	ErrUnproven             = errors.New("chain state does not verify")
	ErrWrongSequencer       = errors.New("chain state signed by another sequencer")
	ErrStaleState           = errors.New("chain state older than already seen")
	ErrNoTEEPolicy          = errors.New("no TEE policy")
	ErrSimulationPolicy     = errors.New("TEE policy accepts simulated enclaves")
	ErrEnclaveNotRegistered = errors.New("enclave key not registered on chain")
	ErrEnclaveAttestation   = errors.New("enclave key attestation refused")
)

// TrustError is a refusal of the trust checks: the client stopped before
// it uploaded or signed anything. Code is stable (callers and tests branch
// on it, see IsCode); the message says what was wrong and what to do.
type TrustError struct {
	Code codes.Code
	Err  error // one of the sentinels above
	Msg  string
	// Proposer is who signed the refused header (ErrWrongSequencer only).
	Proposer common.Address
}

func (e *TrustError) Error() string { return e.Msg }

// Unwrap returns the sentinel.
func (e *TrustError) Unwrap() error { return e.Err }

// ErrorCode is the refusal's stable code name.
func (e *TrustError) ErrorCode() string { return e.Code.Name() }

func refuse(code codes.Code, sentinel error, format string, args ...any) *TrustError {
	return &TrustError{Code: code, Err: sentinel, Msg: fmt.Sprintf(format, args...)}
}

// chain is the client for the chain API (Chain, or the coordinator's own
// /v1/chain/ when Chain is empty).
func (c *Client) chain() *Client {
	if c.Chain == "" || c.Chain == c.BaseURL {
		return c
	}
	return &Client{BaseURL: c.Chain, HTTP: c.HTTP}
}

// ProvenIDAO reads the iDAO called name and its registered enclave keys
// (only pub's when pub is set: its registration or its absence) from the
// chain API and checks every value against a header signed by
// Trust.Sequencer, at least Trust.MinHeight.
func (c *Client) ProvenIDAO(ctx context.Context, name string, pub []byte) (*proof.VerifiedIDAO, error) {
	if c.Trust.Sequencer == (common.Address{}) {
		return nil, refuse(codes.NoTrustedSequencer, ErrNoSequencer,
			"no trusted sequencer to check the chain's proofs against: give the sequencer's address (--sequencer ADDR or VSC_SEQUENCER; the devnet prints it)")
	}
	ch := c.chain()
	path := "/v1/chain/idaos/" + url.PathEscape(name) + "/enclaves"
	if pub != nil {
		path += "/" + hexutil.Encode(pub)
	}
	raw, err := get[proof.IDAO](ctx, ch, path)
	if err != nil {
		return nil, fmt.Errorf("read iDAO %s's proven state from the chain at %s: %w", name, ch.BaseURL, err)
	}
	v, err := raw.Verify(name, c.Trust.Sequencer)
	if errors.Is(err, proof.ErrWrongSequencer) {
		e := refuse(codes.WrongSequencer, ErrWrongSequencer,
			"the chain at %s answers with state signed by %s, not by the trusted sequencer %s: either that chain is another one (a devnet started afresh? then trust its sequencer explicitly) or the API is lying; nothing was sent",
			ch.BaseURL, raw.Header.Proposer.Hex(), c.Trust.Sequencer.Hex())
		e.Proposer = raw.Header.Proposer
		return nil, e
	}
	if err != nil {
		return nil, refuse(codes.UnprovenChainState, ErrUnproven,
			"the chain at %s answered iDAO %s's state with a proof that does not verify (%v): the API is lying or broken; nothing was sent", ch.BaseURL, name, err)
	}
	if v.Header.Height < c.Trust.MinHeight {
		return nil, refuse(codes.StaleChainState, ErrStaleState,
			"the chain at %s proves iDAO %s at block %d, older than block %d already seen: it lags or replays old state; try again or use another chain API; nothing was sent",
			ch.BaseURL, name, v.Header.Height, c.Trust.MinHeight)
	}
	return v, nil
}

// TrustedEnclave returns the enclave key to wrap a data key to for the
// iDAO called name: registered on chain for the iDAO (proven), its
// attestation verified under the iDAO's proven TEE policy (or
// Trust.TEEPolicy). hint is the key the coordinator says its workers hold
// (nil: the newest registered key that attests); it is only a hint, refused
// unless the chain proves it. It also returns the proven state and the
// policy used.
func (c *Client) TrustedEnclave(ctx context.Context, name string, hint []byte) (*ecdsa.PublicKey, *proof.VerifiedIDAO, *tee.Policy, error) {
	v, err := c.ProvenIDAO(ctx, name, hint)
	if err != nil {
		return nil, nil, nil, err
	}
	if v.IDAO == nil {
		return nil, nil, nil, fmt.Errorf("there is no iDAO named %q on chain (proven at block %d): see `vsc idao list`", name, v.Header.Height)
	}
	policy, source := c.Trust.TEEPolicy, "your --tee-policy"
	if policy == nil {
		source = fmt.Sprintf("iDAO %s's TEE policy on chain", name)
		if len(v.IDAO.Policy.TEEPolicy) == 0 {
			return nil, nil, nil, refuse(codes.NoTEEPolicy, ErrNoTEEPolicy,
				"iDAO %s has no TEE policy on chain to check its enclave against: pass --tee-policy FILE with the measurement you trust", name)
		}
		p, err := tee.ParsePolicy(v.IDAO.Policy.TEEPolicy)
		if err != nil {
			return nil, nil, nil, refuse(codes.NoTEEPolicy, ErrNoTEEPolicy,
				"iDAO %s's TEE policy on chain is unusable (%v): pass --tee-policy FILE with the measurement you trust", name, err)
		}
		policy = &p
	}
	if policy.AllowSimulation && !c.Trust.AllowSimulation {
		return nil, nil, nil, refuse(codes.SimulationPolicy, ErrSimulationPolicy,
			"%s accepts SIMULATED enclaves, whose memory and keys are open to whoever runs them, so encrypting to one protects nothing: "+
				"refusing to submit; pass --allow-simulation only for test data on a devnet", source)
	}
	candidates := v.Enclaves
	if hint != nil {
		e := v.Enclave(hint)
		if e == nil {
			return nil, nil, nil, refuse(codes.EnclaveNotRegistered, ErrEnclaveNotRegistered,
				"the enclave key %s… the coordinator names for iDAO %s is not registered on chain (proven at block %d): refusing to wrap the data key to it; nothing was sent",
				hexutil.Encode(hint[:min(len(hint), 9)]), name, v.Header.Height)
		}
		candidates = []*state.Enclave{e}
	}
	if len(candidates) == 0 {
		return nil, nil, nil, refuse(codes.EnclaveNotRegistered, ErrEnclaveNotRegistered,
			"iDAO %q has no enclave key registered on chain (proven at block %d): no verifier can read data for it; try again once its TEE worker has registered", name, v.Header.Height)
	}
	var last error
	for _, e := range candidates {
		if _, err := tee.VerifyKeyAttestationJSON(*policy, e.PubKey, e.Report); err != nil {
			last = err
			continue
		}
		pub, err := crypto.UnmarshalPubkey(e.PubKey)
		if err != nil {
			last = err
			continue
		}
		return pub, v, policy, nil
	}
	err = refuse(codes.EnclaveAttestation, ErrEnclaveAttestation,
		"iDAO %q's enclave key failed attestation under %s, refusing to wrap the data key to it: %v", name, source, last)
	return nil, nil, nil, err
}
