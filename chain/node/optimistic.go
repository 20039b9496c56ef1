package node

import (
	"fmt"
	"net/http"
	"sort"

	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/chain/state"
	"github.com/vsc-labs/vsc/internal/page"
	"github.com/vsc-labs/vsc/optimistic"
)

// Optimistic claims and games, read under /v1/chain/:
//
//	GET /v1/chain/claims[?open=true]  {"claims": [Claim…], "next"}, oldest first, a page at a time
//	GET /v1/chain/claims/{id}         {"claim": Claim, "games": [Game…]}
//	GET /v1/chain/games/{id}          Game

// Claims returns the optimistic claims, oldest first; with open, only those
// not finalized or overturned, plus overturned ones with undecided games.
func (n *Node) Claims(open bool) []*optimistic.Claim {
	var out []*optimistic.Claim
	if open {
		// Collect first: reading a claim inside Range would take the state's
		// read lock twice.
		var ids []common.Hash
		n.st.Range(state.PrefixOpenClaim, func(k string, _ []byte) bool {
			ids = append(ids, common.BytesToHash([]byte(k[len(state.PrefixOpenClaim):])))
			return true
		})
		for _, id := range ids {
			if c, err := n.Claim(id); err == nil {
				out = append(out, c)
			}
		}
	} else {
		n.st.Range(state.PrefixClaim, func(_ string, v []byte) bool {
			if c, err := state.DecodeClaim(v); err == nil {
				out = append(out, c)
			}
			return true
		})
	}
	sort.Slice(out, func(i, j int) bool { return older(out[i].Height, out[i].ID, out[j].Height, out[j].ID) })
	return out
}

// Claim returns one claim.
func (n *Node) Claim(id common.Hash) (*optimistic.Claim, error) {
	b := n.st.Get(state.ClaimKey(id))
	if b == nil {
		return nil, fmt.Errorf("claim %s: %w", id.Hex(), ErrNotFound)
	}
	return state.DecodeClaim(b)
}

// Games returns the games of a claim, oldest first.
func (n *Node) Games(claim common.Hash) []*optimistic.Game {
	var out []*optimistic.Game
	n.st.Range(state.PrefixGame, func(_ string, v []byte) bool {
		if g, err := state.DecodeGame(v); err == nil && g.Claim == claim {
			out = append(out, g)
		}
		return true
	})
	sort.Slice(out, func(i, j int) bool { return older(out[i].Height, out[i].ID, out[j].Height, out[j].ID) })
	return out
}

// Game returns one game.
func (n *Node) Game(id common.Hash) (*optimistic.Game, error) {
	b := n.st.Get(state.GameKey(id))
	if b == nil {
		return nil, fmt.Errorf("game %s: %w", id.Hex(), ErrNotFound)
	}
	return state.DecodeGame(b)
}

func (n *Node) hClaims(w http.ResponseWriter, r *http.Request) {
	pr, ok := pageParam(w, r)
	if !ok {
		return
	}
	cs, next := page.Slice(n.Claims(r.URL.Query().Get("open") == "true"),
		func(c *optimistic.Claim) []byte { return heightKey(c.Height, c.ID) }, pr)
	if cs == nil {
		cs = []*optimistic.Claim{}
	}
	out := map[string]any{"claims": cs}
	if next != "" {
		out["next"] = next
	}
	writeJSON(w, 200, out)
}

func (n *Node) hClaim(w http.ResponseWriter, r *http.Request) {
	h, ok := hashParam(w, r, "id")
	if !ok {
		return
	}
	c, err := n.Claim(h)
	if err != nil {
		n.notFound(w, err)
		return
	}
	gs := n.Games(h)
	if gs == nil {
		gs = []*optimistic.Game{}
	}
	writeJSON(w, 200, map[string]any{"claim": c, "games": gs})
}

func (n *Node) hGame(w http.ResponseWriter, r *http.Request) {
	h, ok := hashParam(w, r, "id")
	if !ok {
		return
	}
	g, err := n.Game(h)
	if err != nil {
		n.notFound(w, err)
		return
	}
	writeJSON(w, 200, g)
}

// older orders claims and games oldest first: by height, then id.
func older(ha uint64, a common.Hash, hb uint64, b common.Hash) bool {
	if ha != hb {
		return ha < hb
	}
	return a.Cmp(b) < 0
}
