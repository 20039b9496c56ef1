package node

import (
	"net/http"
	"sort"

	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/chain/api"
	"github.com/vsc-labs/vsc/chain/state"
	"github.com/vsc-labs/vsc/dat/escrow"
	"github.com/vsc-labs/vsc/internal/codes"
)

// Provider returns the data-service provider of account a.
func (n *Node) Provider(a common.Address) (*escrow.Provider, error) {
	p := new(escrow.Provider)
	return p, n.load(state.ProviderKey(a), p, "provider "+a.Hex())
}

// Providers returns the providers of the iDAO called name ("": every
// iDAO), sorted by address.
func (n *Node) Providers(name string) []*escrow.Provider {
	var out []*escrow.Provider
	n.st.Range(state.PrefixProvider, func(_ string, v []byte) bool {
		p := new(escrow.Provider)
		if state.Decode(v, p) == nil && (name == "" || p.IDAO == name) {
			out = append(out, p)
		}
		return true
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Address.Cmp(out[j].Address) < 0 })
	return out
}

// ProviderView is p as the API shows it (attested under its iDAO's
// current TEE policy, or not).
func (n *Node) ProviderView(p *escrow.Provider) api.Provider {
	var pol []byte
	if d, err := n.IDAO(p.IDAO); err == nil {
		pol = d.Policy.TEEPolicy
	}
	v := api.NewProvider(p, pol)
	if pol == nil {
		v.Attested = false
	}
	return v
}

// EscrowAccount returns app's sub-account with provider.
func (n *Node) EscrowAccount(app, provider common.Address) (*escrow.Account, error) {
	a := new(escrow.Account)
	return a, n.load(state.EscrowKey(app, provider), a, "escrow of "+app.Hex()+" with "+provider.Hex())
}

// EscrowAccounts returns app's sub-accounts, by provider.
func (n *Node) EscrowAccounts(app common.Address) []*escrow.Account {
	var out []*escrow.Account
	n.st.Range(state.PrefixEscrow+string(app[:]), func(_ string, v []byte) bool {
		a := new(escrow.Account)
		if state.Decode(v, a) == nil {
			out = append(out, a)
		}
		return true
	})
	return out
}

// SettledJob returns the chain's record of a settled job.
func (n *Node) SettledJob(id common.Hash) (*escrow.Settled, error) {
	s := new(escrow.Settled)
	return s, n.load(state.JobKey(id), s, "settled job "+id.Hex())
}

func (n *Node) hProviders(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("idao")
	if len(name) > 64 {
		writeErr(w, codes.InvalidField, "idao: at most 64 characters")
		return
	}
	out := api.ProviderList{Providers: []api.Provider{}}
	for _, p := range n.Providers(name) {
		out.Providers = append(out.Providers, n.ProviderView(p))
	}
	writeJSON(w, 200, out)
}

func (n *Node) hProvider(w http.ResponseWriter, r *http.Request) {
	a, ok := addrParam(w, r.PathValue("addr"))
	if !ok {
		return
	}
	p, err := n.Provider(a)
	if err != nil {
		n.notFound(w, err)
		return
	}
	writeJSON(w, 200, n.ProviderView(p))
}

func (n *Node) hEscrow(w http.ResponseWriter, r *http.Request) {
	a, ok := addrParam(w, r.PathValue("addr"))
	if !ok {
		return
	}
	out := api.Escrow{Address: a, Accounts: []api.EscrowAccount{}}
	for _, acc := range n.EscrowAccounts(a) {
		out.Accounts = append(out.Accounts, api.NewEscrowAccount(acc))
	}
	writeJSON(w, 200, out)
}

func (n *Node) hSettledJob(w http.ResponseWriter, r *http.Request) {
	h, ok := hashParam(w, r, "id")
	if !ok {
		return
	}
	s, err := n.SettledJob(h)
	if err != nil {
		n.notFound(w, err)
		return
	}
	writeJSON(w, 200, api.NewSettledJob(s))
}

func (n *Node) hJobProof(w http.ResponseWriter, r *http.Request) {
	h, ok := hashParam(w, r, "id")
	if !ok {
		return
	}
	writeProof(w, n.StateProof(state.JobKey(h)))
}
