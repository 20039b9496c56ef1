package chainlink

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"math/big"
	"sync"

	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/chain/api"
	"github.com/vsc-labs/vsc/chain/tx"
	"github.com/vsc-labs/vsc/coordinator"
	"github.com/vsc-labs/vsc/coordinator/client"
	"github.com/vsc-labs/vsc/coordinator/store"
	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/internal/codes"
)

// FromAPI converts the chain API's iDAO view back into the iDAO rules type.
func FromAPI(v *api.IDAO) (*idao.IDAO, error) {
	amount := func(s, what string) (*big.Int, error) {
		if s == "" {
			return new(big.Int), nil
		}
		x, ok := new(big.Int).SetString(s, 10)
		if !ok {
			return nil, fmt.Errorf("iDAO %s: %s %q is not an amount", v.Name, what, s)
		}
		return x, nil
	}
	price, err := amount(v.PolicyFull.Price, "price")
	if err != nil {
		return nil, err
	}
	d := &idao.IDAO{Name: v.Name, Owner: v.Owner, Created: v.Created, Policy: idao.Policy{Modes: v.PolicyFull.Modes,
		Price: price, TEEPolicy: v.PolicyFull.TEEPolicy, VKHash: v.PolicyFull.VKHash, UnstakeDelay: v.PolicyFull.UnstakeDelay,
		MinGroupSize: v.PolicyFull.MinGroupSize, ZKShapes: v.PolicyFull.ZKShapes}}
	for _, m := range v.Members {
		st, err := amount(m.Stake, "stake")
		if err != nil {
			return nil, err
		}
		pend, err := amount(m.Pending, "pending stake")
		if err != nil {
			return nil, err
		}
		d.Members = append(d.Members, idao.Member{Addr: m.Address, Stake: st, Pending: pend, ReleaseAt: m.ReleaseAt})
	}
	return d, nil
}

// Remote is the coordinator's link to a chain node over its HTTP API (a
// coordinator that runs apart from the sequencer). It implements the same
// idempotent anchor and mint as Local.
type Remote struct {
	Client *client.Client
	Key    *ecdsa.PrivateKey // the coordinator's chain account

	EnclavePubkey []byte // the verifier set's published enclave key (served to clients)
	EnclaveReport []byte
	// Reads, when set, is where the iDAO registry is read instead of
	// Client: the coordinator's own verifying follower (`vscd chain
	// --follow`). Anchors and mints, and the reads that confirm them, stay
	// on Client, the sequencer.
	Reads *client.Client

	mu    sync.Mutex                      // one sender: nonces in order
	fence func(ctx context.Context) error // checked before each tx is built (SetFence)
}

// SetFence makes the link call f before it builds and signs each tx, and
// send nothing when f fails (see Local.SetFence).
func (r *Remote) SetFence(f func(ctx context.Context) error) { r.fence = f }

// sendTx signs and sends body with the coordinator's key, one at a time,
// once the fence lets it.
func (r *Remote) sendTx(ctx context.Context, body tx.Body) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fence != nil {
		if err := r.fence(ctx); err != nil {
			return fmt.Errorf("not sending: %w", err)
		}
	}
	_, err := r.Client.SendChainTx(ctx, r.Key, body)
	return err
}

func (r *Remote) reads() *client.Client {
	if r.Reads != nil {
		return r.Reads
	}
	return r.Client
}

// IDAO reads an iDAO from the chain (from Reads when set).
func (r *Remote) IDAO(ctx context.Context, name string) (*idao.IDAO, error) {
	v, err := r.reads().ChainIDAO(ctx, name)
	if err != nil {
		return nil, err
	}
	return FromAPI(v)
}

// Registry returns the chain's iDAOs as the coordinator's intake sees them.
func (r *Remote) Registry() *RemoteRegistry { return &RemoteRegistry{r} }

// RemoteRegistry serves the chain's iDAOs to the coordinator's intake.
type RemoteRegistry struct{ r *Remote }

// IDAO reads one iDAO.
func (g *RemoteRegistry) IDAO(ctx context.Context, name string) (*coordinator.Registered, error) {
	d, err := g.r.IDAO(ctx, name)
	if err != nil {
		if client.IsCode(err, codes.NotFound) {
			return nil, fmt.Errorf("%w: %q", store.ErrUnknownIDAO, name)
		}
		return nil, err
	}
	return registered(d, g.r.EnclavePubkey, g.r.EnclaveReport), nil
}

// IDAOs lists the chain's iDAOs.
func (g *RemoteRegistry) IDAOs(ctx context.Context) ([]*coordinator.Registered, error) {
	list, err := g.r.reads().ChainIDAOs(ctx)
	if err != nil {
		return nil, err
	}
	var out []*coordinator.Registered
	for _, v := range list.IDAOs {
		d, err := FromAPI(v)
		if err != nil {
			return nil, err
		}
		out = append(out, registered(d, g.r.EnclavePubkey, g.r.EnclaveReport))
	}
	return out, nil
}

// Mint sends (or finds) the mint of an anchored digest.
func (r *Remote) Mint(ctx context.Context, c *store.Certificate) (common.Hash, error) {
	if a, err := r.Client.ChainAnchor(ctx, c.ResultDigest); err == nil && a.Minted {
		return c.ResultDigest, nil
	}
	err := r.sendTx(ctx, mintTx(c))
	if a, rerr := r.Client.ChainAnchor(ctx, c.ResultDigest); rerr == nil && a.Minted {
		return c.ResultDigest, nil
	}
	if err == nil {
		err = errors.New("mint tx succeeded but the anchor is not marked minted")
	}
	return common.Hash{}, fmt.Errorf("mint %s: %w", c.ResultDigest.Hex(), err)
}

// AnchorAndMint anchors and mints certified submissions: those not yet on
// chain go out in anchor-batch txs (each waits for its receipt over HTTP);
// an anchored but unminted one gets its own mint. What is on chain is read
// back for each.
func (r *Remote) AnchorAndMint(ctx context.Context, certs []*store.Certificate) []coordinator.AnchorOutcome {
	out := make([]coordinator.AnchorOutcome, len(certs))
	var todo []*store.Certificate
	for _, c := range certs {
		if _, err := r.Client.ChainAnchor(ctx, c.ResultDigest); err != nil {
			todo = append(todo, c)
		}
	}
	sendErr := map[common.Hash]error{}
	var stakeHeight uint64
	if len(todo) > 0 {
		head, err := r.Client.ChainHead(ctx)
		if err != nil {
			for _, c := range todo {
				sendErr[c.ResultDigest] = fmt.Errorf("read the chain's head for the QC's stake height: %w", err)
			}
			todo = nil
		} else {
			stakeHeight = head.Height
		}
	}
	for _, chunk := range anchorChunks(len(todo), func(k int) *store.Certificate { return todo[k] }) {
		cs := make([]*store.Certificate, len(chunk))
		for n, k := range chunk {
			cs[n] = todo[k]
		}
		// the API's iDAO view has no stake history: the QCs are counted at the head
		err := r.sendTx(ctx, anchorBatch(cs, func(*store.Certificate) uint64 { return stakeHeight }))
		for _, c := range cs {
			sendErr[c.ResultDigest] = err
		}
	}
	for i, c := range certs {
		a, err := r.Client.ChainAnchor(ctx, c.ResultDigest)
		if err != nil {
			if serr := sendErr[c.ResultDigest]; serr != nil {
				err = serr
			}
			out[i].Err = fmt.Errorf("anchor %s: %w", c.ResultDigest.Hex(), err)
			continue
		}
		out[i].Info = &coordinator.AnchorInfo{Block: a.Block, Tx: a.Tx, QCHash: a.QCHash}
		out[i].Class, out[i].Err = c.ResultDigest, nil
		if !a.Minted {
			out[i].Class, out[i].Err = r.Mint(ctx, c)
		}
	}
	return out
}

// OpenClaims maps submissions to the status of their undecided claims.
func (r *Remote) OpenClaims(ctx context.Context) (map[common.Hash]string, error) {
	list, err := r.Client.Claims(ctx, true)
	if err != nil {
		return nil, err
	}
	out := map[common.Hash]string{}
	for _, c := range list.Claims {
		out[c.Submission] = c.Status
	}
	return out, nil
}
