package node

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/vsc-labs/vsc/chain"
	"github.com/vsc-labs/vsc/chain/api"
	"github.com/vsc-labs/vsc/chain/proof"
	"github.com/vsc-labs/vsc/chain/state"
	"github.com/vsc-labs/vsc/chain/store"
	"github.com/vsc-labs/vsc/chain/tx"
	"github.com/vsc-labs/vsc/dat"
	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/internal/codes"
	"github.com/vsc-labs/vsc/internal/page"
)

// Handler serves the chain's read API and tx submission under /v1/chain/
// (documented in openapi.json next to this file).
func (n *Node) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/chain/openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(OpenAPI)
	})
	mux.HandleFunc("GET /v1/chain/info", n.hInfo)
	mux.HandleFunc("GET /v1/chain/head", n.hHead)
	mux.HandleFunc("GET /v1/chain/blocks/{id}", n.hBlock)
	mux.HandleFunc("GET /v1/chain/blocks/{id}/receipts", n.hBlockReceipts)
	mux.HandleFunc("GET /v1/chain/blocks/{id}/raw", n.hBlockRaw)
	mux.HandleFunc("GET /v1/chain/genesis", n.hGenesis)
	mux.HandleFunc("POST /v1/chain/txs", n.hSubmit)
	mux.HandleFunc("GET /v1/chain/txs/{hash}", n.hTx)
	mux.HandleFunc("GET /v1/chain/txs/{hash}/proof", n.hTxProof)
	mux.HandleFunc("GET /v1/chain/accounts/{addr}", n.hAccount)
	mux.HandleFunc("GET /v1/chain/accounts/{addr}/proof", n.hAccountProof)
	mux.HandleFunc("GET /v1/chain/idaos", n.hIDAOs)
	mux.HandleFunc("GET /v1/chain/idaos/{name}", n.hIDAO)
	mux.HandleFunc("GET /v1/chain/idaos/{name}/proof", n.hIDAOProof)
	mux.HandleFunc("GET /v1/chain/idaos/{name}/enclaves", n.hIDAOEnclaves)
	mux.HandleFunc("GET /v1/chain/idaos/{name}/enclaves/{pubkey}", n.hIDAOEnclave)
	mux.HandleFunc("GET /v1/chain/anchors/{digest}", n.hAnchor)
	mux.HandleFunc("GET /v1/chain/bonds/{id}", n.hBond)
	mux.HandleFunc("GET /v1/chain/dat/classes", n.hClasses)
	mux.HandleFunc("GET /v1/chain/dat/classes/{id}", n.hClass)
	mux.HandleFunc("GET /v1/chain/dat/classes/{id}/proof", n.hClassProof)
	mux.HandleFunc("GET /v1/chain/dat/classes/{id}/redeems", n.hClassRedeems)
	mux.HandleFunc("GET /v1/chain/dat/tokens", n.hTokens)
	mux.HandleFunc("GET /v1/chain/dat/tokens/{id}", n.hToken)
	mux.HandleFunc("GET /v1/chain/dat/tokens/{id}/proof", n.hTokenProof)
	mux.HandleFunc("GET /v1/chain/dat/redeems/{tx}", n.hRedeem)
	mux.HandleFunc("GET /v1/chain/claims", n.hClaims)
	mux.HandleFunc("GET /v1/chain/claims/{id}", n.hClaim)
	mux.HandleFunc("GET /v1/chain/games/{id}", n.hGame)
	mux.HandleFunc("GET /v1/chain/providers", n.hProviders)
	mux.HandleFunc("GET /v1/chain/providers/{addr}", n.hProvider)
	mux.HandleFunc("GET /v1/chain/escrow/{addr}", n.hEscrow)
	mux.HandleFunc("GET /v1/chain/jobs/{id}", n.hSettledJob)
	mux.HandleFunc("GET /v1/chain/jobs/{id}/proof", n.hJobProof)
	return mux
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// writeErr answers with a failure: code's HTTP status and the body
// {"code","number","error"} (codes.Error), msg saying what was wrong.
func writeErr(w http.ResponseWriter, c codes.Code, msg string) {
	writeJSON(w, c.HTTP(), &codes.Error{Code: c, Message: msg})
}

// writeFailure answers with err's code (one the door's errors carry; an
// uncoded error is the node not producing) and err's words.
func writeFailure(w http.ResponseWriter, err error) {
	c := codes.Of(err)
	if c == codes.OK {
		c = codes.NotProducing
	}
	writeErr(w, c, err.Error())
}

// maxSubmitBody bounds a tx submission's JSON body: a tx of tx.MaxSize in
// hex, and room for the JSON around it.
const maxSubmitBody = 2*tx.MaxSize + 1024

func (n *Node) notFound(w http.ResponseWriter, err error) {
	writeErr(w, codes.NotFound, err.Error())
}

func hashParam(w http.ResponseWriter, r *http.Request, name string) (common.Hash, bool) {
	s := r.PathValue(name)
	if len(s) != 66 || !strings.HasPrefix(s, "0x") {
		writeErr(w, codes.BadHash, name+" must be a 0x-prefixed 32-byte hex hash")
		return common.Hash{}, false
	}
	b := common.FromHex(s)
	if len(b) != 32 {
		writeErr(w, codes.BadHash, name+" must be a 0x-prefixed 32-byte hex hash")
		return common.Hash{}, false
	}
	return common.BytesToHash(b), true
}

func addrParam(w http.ResponseWriter, s string) (common.Address, bool) {
	if !common.IsHexAddress(s) {
		writeErr(w, codes.BadAddress, "address must be 0x followed by 40 hex digits")
		return common.Address{}, false
	}
	return common.HexToAddress(s), true
}

func (n *Node) hInfo(w http.ResponseWriter, _ *http.Request) {
	p, _ := n.genesis.Price()
	writeJSON(w, 200, &api.Info{ChainID: n.genesis.ChainID, Sequencer: n.genesis.Sequencer, GasPrice: p.String(),
		Lanes: n.cfg.Lanes, Head: n.Head().Height, Mempool: n.pool.size()})
}

func (n *Node) hHead(w http.ResponseWriter, _ *http.Request) {
	h := api.NewHeader(n.Head())
	h.Follow = n.FollowStatus()
	writeJSON(w, 200, h)
}

// hBlockRaw serves a block in its canonical encoding (chain.Block.Encode):
// what followers re-execute.
func (n *Node) hBlockRaw(w http.ResponseWriter, r *http.Request) {
	blk, ok := n.blockParam(w, r)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	_, _ = w.Write(blk.Encode())
}

// hGenesis serves the genesis configuration the chain was made with.
func (n *Node) hGenesis(w http.ResponseWriter, _ *http.Request) {
	raw, err := json.Marshal(n.genesis)
	if err != nil {
		writeErr(w, codes.Internal, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(raw)
}

func (n *Node) blockParam(w http.ResponseWriter, r *http.Request) (*chain.Block, bool) {
	id := r.PathValue("id")
	var blk *chain.Block
	var err error
	if h, ok := api.ParseUint(id); ok {
		blk, err = n.Block(h)
	} else if strings.HasPrefix(id, "0x") && len(id) == 66 {
		blk, err = n.BlockByHash(common.HexToHash(id))
	} else {
		writeErr(w, codes.BadBlockID, "block id must be a height or a 0x block hash")
		return nil, false
	}
	if err != nil {
		n.notFound(w, err)
		return nil, false
	}
	return blk, true
}

func (n *Node) hBlock(w http.ResponseWriter, r *http.Request) {
	blk, ok := n.blockParam(w, r)
	if !ok {
		return
	}
	rs, _ := n.Receipts(blk.Header.Height)
	writeJSON(w, 200, api.NewBlock(blk, rs))
}

func (n *Node) hBlockReceipts(w http.ResponseWriter, r *http.Request) {
	blk, ok := n.blockParam(w, r)
	if !ok {
		return
	}
	rs, err := n.Receipts(blk.Header.Height)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		writeErr(w, codes.Internal, err.Error())
		return
	}
	out := make([]*api.Receipt, len(rs))
	for i, rc := range rs {
		out[i] = api.NewReceipt(rc)
	}
	writeJSON(w, 200, map[string]any{"receipts": out})
}

func (n *Node) hSubmit(w http.ResponseWriter, r *http.Request) {
	var req api.SubmitRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxSubmitBody)).Decode(&req); err != nil {
		var big *http.MaxBytesError
		if errors.As(err, &big) {
			writeErr(w, codes.TxTooLarge,
				fmt.Sprintf("the body is over %d bytes: a tx is at most %d bytes (tx.MaxSize)", maxSubmitBody, tx.MaxSize))
			return
		}
		writeErr(w, codes.BadRequest, "body must be {\"raw\":\"0x…\"}: "+err.Error())
		return
	}
	if n.follow != nil { // checked here for a clear refusal, sent on to the sequencer
		if _, err := tx.Decode(req.Raw); err != nil {
			writeFailure(w, fmt.Errorf("%w: %v", ErrMalformed, err))
			return
		}
		body, _ := json.Marshal(&req)
		n.forwardTx(w, r, body)
		return
	}
	t, err := tx.Decode(req.Raw)
	if err != nil {
		if errors.Is(err, tx.ErrTooLarge) {
			err = &codes.Error{Code: codes.TxTooLarge, Message: err.Error()}
		} else {
			err = fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		writeFailure(w, err)
		return
	}
	h, err := n.SubmitTx(t)
	if err != nil {
		writeFailure(w, err)
		return
	}
	writeJSON(w, http.StatusAccepted, &api.SubmitResponse{Hash: h})
}

func (n *Node) hTx(w http.ResponseWriter, r *http.Request) {
	h, ok := hashParam(w, r, "hash")
	if !ok {
		return
	}
	info, err := n.Tx(h)
	if err != nil {
		if t := n.pool.get(h); t != nil {
			writeJSON(w, 200, api.NewTx(t))
			return
		}
		if why := n.dropped.get(h); why != nil {
			writeErr(w, codes.TxDropped, fmt.Sprintf("%v: %v", ErrDropped, why))
			return
		}
		n.notFound(w, err)
		return
	}
	v := api.NewTx(info.Tx)
	v.Status = "committed"
	v.Block, v.Index, v.BlockHash = &info.Height, &info.Index, &info.BlockHash
	v.Receipt = api.NewReceipt(info.Receipt)
	writeJSON(w, 200, v)
}

func writeProof(w http.ResponseWriter, p *proof.Proof) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(p.Marshal())
}

func (n *Node) hTxProof(w http.ResponseWriter, r *http.Request) {
	h, ok := hashParam(w, r, "hash")
	if !ok {
		return
	}
	p, err := n.TxProof(h)
	if err != nil {
		n.notFound(w, err)
		return
	}
	writeProof(w, p)
}

func (n *Node) hAccount(w http.ResponseWriter, r *http.Request) {
	a, ok := addrParam(w, r.PathValue("addr"))
	if !ok {
		return
	}
	writeJSON(w, 200, api.NewAccount(a, n.Account(a), n.NextNonce(a)))
}

func (n *Node) hAccountProof(w http.ResponseWriter, r *http.Request) {
	a, ok := addrParam(w, r.PathValue("addr"))
	if !ok {
		return
	}
	writeProof(w, n.StateProof(state.AccountKey(a)))
}

// pageParam reads a list request's ?limit= and ?cursor= (internal/page).
func pageParam(w http.ResponseWriter, r *http.Request) (page.Request, bool) {
	pr, err := page.Parse(r.URL.Query())
	if err != nil {
		writeErr(w, codes.InvalidField, err.Error())
		return page.Request{}, false
	}
	return pr, true
}

// heightKey is the sort key of lists ordered oldest first: height, then id.
func heightKey(height uint64, id common.Hash) []byte {
	return append(binary.BigEndian.AppendUint64(nil, height), id[:]...)
}

func (n *Node) hIDAOs(w http.ResponseWriter, r *http.Request) {
	pr, ok := pageParam(w, r)
	if !ok {
		return
	}
	daos, next := page.Slice(n.IDAOs(), func(d *idao.IDAO) []byte { return []byte(d.Name) }, pr)
	out := &api.IDAOList{IDAOs: []*api.IDAO{}, Next: next}
	for _, d := range daos {
		out.IDAOs = append(out.IDAOs, api.NewIDAO(d))
	}
	writeJSON(w, 200, out)
}

func (n *Node) hIDAO(w http.ResponseWriter, r *http.Request) {
	d, err := n.IDAO(r.PathValue("name"))
	if err != nil {
		n.notFound(w, err)
		return
	}
	writeJSON(w, 200, api.NewIDAO(d))
}

func (n *Node) hIDAOProof(w http.ResponseWriter, r *http.Request) {
	writeProof(w, n.StateProof(state.IDAOKey(r.PathValue("name"))))
}

// hIDAOEnclaves serves the iDAO and its registered enclave keys (the newest
// proof.MaxEnclaveProofs), each with a state proof under one signed header.
func (n *Node) hIDAOEnclaves(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, 200, n.IDAOProof(r.PathValue("name"), nil))
}

// hIDAOEnclave serves the iDAO and the proof that one enclave key is (or is
// not) registered for it, under one signed header.
func (n *Node) hIDAOEnclave(w http.ResponseWriter, r *http.Request) {
	s := r.PathValue("pubkey")
	pub, err := hexutil.Decode(s)
	if err != nil || len(pub) != enclavePubkeySize || pub[0] != 4 {
		writeErr(w, codes.BadPubkey, "pubkey must be a 0x-prefixed 65-byte uncompressed secp256k1 public key (0x04…)")
		return
	}
	writeJSON(w, 200, n.IDAOProof(r.PathValue("name"), pub))
}

// enclavePubkeySize is the size of an uncompressed secp256k1 public key,
// the only form of enclave key the chain registers.
const enclavePubkeySize = 65

func (n *Node) hAnchor(w http.ResponseWriter, r *http.Request) {
	h, ok := hashParam(w, r, "digest")
	if !ok {
		return
	}
	a, err := n.Anchor(h)
	if err != nil {
		n.notFound(w, err)
		return
	}
	writeJSON(w, 200, api.NewAnchor(a))
}

func (n *Node) hBond(w http.ResponseWriter, r *http.Request) {
	h, ok := hashParam(w, r, "id")
	if !ok {
		return
	}
	b, err := n.Bond(h)
	if err != nil {
		n.notFound(w, err)
		return
	}
	writeJSON(w, 200, api.NewBond(b))
}

func (n *Node) hClasses(w http.ResponseWriter, r *http.Request) {
	pr, ok := pageParam(w, r)
	if !ok {
		return
	}
	classes, next := page.Slice(n.Classes(), func(c *dat.Class) []byte { return heightKey(c.CreatedAt, c.ID) }, pr)
	out := &api.ClassList{Classes: []*api.Class{}, Next: next}
	for _, c := range classes {
		out.Classes = append(out.Classes, api.NewClass(c, nil))
	}
	writeJSON(w, 200, out)
}

func (n *Node) hClass(w http.ResponseWriter, r *http.Request) {
	h, ok := hashParam(w, r, "id")
	if !ok {
		return
	}
	c, err := n.Class(h)
	if err != nil {
		n.notFound(w, err)
		return
	}
	writeJSON(w, 200, api.NewClass(c, n.Tokens(h, common.Address{})))
}

func (n *Node) hClassProof(w http.ResponseWriter, r *http.Request) {
	h, ok := hashParam(w, r, "id")
	if !ok {
		return
	}
	writeProof(w, n.StateProof(state.ClassKey(h)))
}

// hClassRedeems serves a class's successful dat_redeem txs, newest first,
// paged (?limit=, ?cursor=: the sort key height ‖ tx index of the last
// redeem of the previous page).
func (n *Node) hClassRedeems(w http.ResponseWriter, r *http.Request) {
	h, ok := hashParam(w, r, "id")
	if !ok {
		return
	}
	pr, ok := pageParam(w, r)
	if !ok {
		return
	}
	if pr.After != nil && len(pr.After) != store.RedeemKeySize {
		writeErr(w, codes.InvalidField, page.ErrBadCursor.Error())
		return
	}
	if _, err := n.Class(h); err != nil {
		n.notFound(w, err)
		return
	}
	rs, more, err := n.ClassRedeems(h, pr.After, pr.Limit)
	if err != nil {
		writeErr(w, codes.Internal, err.Error())
		return
	}
	out := &api.ClassRedeemList{Redeems: []*api.ClassRedeem{}}
	for _, x := range rs {
		out.Redeems = append(out.Redeems, &api.ClassRedeem{Tx: x.Tx, Block: x.Height, Index: x.Index, Token: x.Token,
			Units: x.Units, Redeemer: x.Redeemer, Time: x.Time})
	}
	if more && len(rs) > 0 {
		out.Next = page.Cursor(rs[len(rs)-1].Key())
	}
	writeJSON(w, 200, out)
}

func (n *Node) hTokens(w http.ResponseWriter, r *http.Request) {
	var owner common.Address
	var class common.Hash
	if s := r.URL.Query().Get("owner"); s != "" {
		a, ok := addrParam(w, s)
		if !ok {
			return
		}
		owner = a
	}
	if s := r.URL.Query().Get("class"); s != "" {
		b := common.FromHex(s)
		if len(b) != 32 {
			writeErr(w, codes.BadHash, "class must be a 0x-prefixed 32-byte hex hash")
			return
		}
		class = common.BytesToHash(b)
	}
	pr, ok := pageParam(w, r)
	if !ok {
		return
	}
	tokens, next := page.Slice(n.Tokens(class, owner), func(t *dat.Token) []byte { return t.ID[:] }, pr)
	out := &api.TokenList{Tokens: []*api.Token{}, Next: next}
	for _, t := range tokens {
		c, _ := n.Class(t.Class)
		out.Tokens = append(out.Tokens, api.NewToken(c, t))
	}
	writeJSON(w, 200, out)
}

func (n *Node) hToken(w http.ResponseWriter, r *http.Request) {
	h, ok := hashParam(w, r, "id")
	if !ok {
		return
	}
	t, err := n.Token(h)
	if err != nil {
		n.notFound(w, err)
		return
	}
	c, _ := n.Class(t.Class)
	writeJSON(w, 200, api.NewToken(c, t))
}

func (n *Node) hTokenProof(w http.ResponseWriter, r *http.Request) {
	h, ok := hashParam(w, r, "id")
	if !ok {
		return
	}
	writeProof(w, n.StateProof(state.TokenKey(h)))
}

func (n *Node) hRedeem(w http.ResponseWriter, r *http.Request) {
	h, ok := hashParam(w, r, "tx")
	if !ok {
		return
	}
	rr, err := n.Redeem(h)
	if err != nil {
		n.notFound(w, err)
		return
	}
	writeJSON(w, 200, rr)
}
