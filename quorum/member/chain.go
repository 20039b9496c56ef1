package member

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/vsc-labs/vsc/chain"
	"github.com/vsc-labs/vsc/chain/proof"
	"github.com/vsc-labs/vsc/idao"
)

// Limits of ProvenChain's reads.
const (
	// MaxProofResponse bounds a proof answer read from the chain API; an
	// iDAO proof with its enclave proofs is a few tens of KB.
	MaxProofResponse = 4 << 20
	// ChainReadTimeout bounds one read of the chain API.
	ChainReadTimeout = 10 * time.Second
)

// ProvenChain is the Chain of a member that runs apart from the sequencer
// (`vscd quorum`): it reads the chain's HTTP API at URL and believes a value
// only with a state proof under a header signed by Sequencer — which the
// member knows from its genesis or its operator, never from the API. It
// never goes back in time: a header older than one already seen is
// refused, so an API cannot replay an iDAO from before a policy or stake
// change.
type ProvenChain struct {
	URL       string
	Sequencer common.Address
	HTTP      *http.Client

	mu     sync.Mutex
	height uint64 // highest header proven so far
}

// NewProvenChain returns a ProvenChain for the chain API at url, trusting
// headers signed by sequencer.
func NewProvenChain(url string, sequencer common.Address) *ProvenChain {
	return &ProvenChain{URL: strings.TrimRight(url, "/"), Sequencer: sequencer, HTTP: &http.Client{Timeout: ChainReadTimeout}}
}

// IDAO reads the iDAO called name, proven (GET /v1/chain/idaos/{name}/proof).
func (c *ProvenChain) IDAO(name string) (*idao.IDAO, error) {
	var p proof.Proof
	if err := c.get("/v1/chain/idaos/"+url.PathEscape(name)+"/proof", &p); err != nil {
		return nil, err
	}
	d, h, err := proof.VerifyIDAOState(&p, name, c.Sequencer)
	if err != nil {
		return nil, fmt.Errorf("the chain API at %s answered iDAO %s with state that does not verify, refusing it: %w", c.URL, name, err)
	}
	if err := c.advance(h); err != nil {
		return nil, err
	}
	if d == nil {
		return nil, fmt.Errorf("there is no iDAO %s on chain (proven at block %d)", name, h.Height)
	}
	return d, nil
}

// EnclaveRegistered reads, proven, whether pub is registered for the iDAO
// called name (GET /v1/chain/idaos/{name}/enclaves/{pubkey}).
func (c *ProvenChain) EnclaveRegistered(name string, pub []byte) (bool, error) {
	var p proof.IDAO
	if err := c.get("/v1/chain/idaos/"+url.PathEscape(name)+"/enclaves/"+hexutil.Encode(pub), &p); err != nil {
		return false, err
	}
	v, err := p.Verify(name, c.Sequencer)
	if err != nil {
		return false, fmt.Errorf("the chain API at %s answered enclave registrations of iDAO %s with state that does not verify, refusing it: %w", c.URL, name, err)
	}
	if err := c.advance(v.Header); err != nil {
		return false, err
	}
	if len(p.Enclaves) != 1 {
		return false, fmt.Errorf("the chain API at %s answered %d enclave proofs for one key of iDAO %s", c.URL, len(p.Enclaves), name)
	}
	return v.Enclave(pub) != nil, nil
}

// advance records h as seen, refusing a header older than one seen before.
func (c *ProvenChain) advance(h *chain.Header) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if h.Height < c.height {
		return fmt.Errorf("the chain API at %s proves state at block %d, older than block %d already seen: it lags or replays old state", c.URL, h.Height, c.height)
	}
	c.height = h.Height
	return nil
}

// get reads the JSON at path into out.
func (c *ProvenChain) get(path string, out any) error {
	ctx, cancel := context.WithTimeout(context.Background(), ChainReadTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL+path, nil)
	if err != nil {
		return err
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("read %s from the chain: %w", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxProofResponse+1))
	if err != nil {
		return fmt.Errorf("read %s from the chain: %w", path, err)
	}
	if len(body) > MaxProofResponse {
		return fmt.Errorf("read %s from the chain: answer over %d bytes", path, MaxProofResponse)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Message string `json:"error"`
		}
		_ = json.Unmarshal(body, &e)
		return fmt.Errorf("read %s from the chain: HTTP %d: %s", path, resp.StatusCode, e.Message)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("read %s from the chain: %w", path, err)
	}
	return nil
}

var _ Chain = (*ProvenChain)(nil)
