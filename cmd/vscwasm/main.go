//go:build js && wasm

// Command vscwasm is vsc's own client code compiled to WebAssembly for the
// Web UI's submit page (GOOS=js GOARCH=wasm; built into
// coordinator/ui/static/vsc.wasm by `go generate ./coordinator/ui`). It
// runs exactly what `vsc submit` runs — internal/records parses and commits
// the dataset (Poseidon2), coordinator/client proves the iDAO's policy and
// enclave key against the sequencer and checks the enclave's attestation,
// internal/envelope encrypts — so the browser has no second implementation
// to drift, and the dataset leaves the page only encrypted. The page's
// wallet signs the typed data; submit sends it with that signature.
//
// It sets globalThis.vscwasm = {parse, prepare, submit, verifyProof,
// jobRequest, submitJob, verifyJob, chainTx, submitChainTx} (jobs.go: the
// class page's queries; chaintx.go: the chain txs a wallet signs, buying
// quota and funding escrow); prepare, submit, the job and chain-tx
// functions return Promises; a refusal rejects with the SDK's sentence.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"syscall/js"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/vsc-labs/vsc/chain/proof"
	"github.com/vsc-labs/vsc/coordinator/client"
	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/internal/records"
)

// prepareTimeout bounds one prepare or submit (proven reads, upload).
const prepareTimeout = 2 * time.Minute

// maxPrepared bounds the prepared submissions kept for submit.
const maxPrepared = 16

var (
	mu       sync.Mutex
	prepared = map[common.Hash]*client.Prepared{}
)

func main() {
	api := js.Global().Get("Object").New()
	api.Set("parse", js.FuncOf(parse))
	api.Set("prepare", js.FuncOf(prepare))
	api.Set("submit", js.FuncOf(submit))
	api.Set("verifyProof", js.FuncOf(verifyProof))
	api.Set("jobRequest", js.FuncOf(jobRequest))
	api.Set("submitJob", js.FuncOf(submitJob))
	api.Set("verifyJob", js.FuncOf(verifyJob))
	api.Set("chainTx", js.FuncOf(chainTx))
	api.Set("submitChainTx", js.FuncOf(submitChainTx))
	js.Global().Set("vscwasm", api)
	if cb := js.Global().Get("vscwasmReady"); cb.Type() == js.TypeFunction {
		cb.Invoke()
	}
	select {}
}

// bytesOf copies a Uint8Array into Go.
func bytesOf(v js.Value) []byte {
	b := make([]byte, v.Get("length").Int())
	js.CopyBytesToGo(b, v)
	return b
}

// parse(Uint8Array) → {records, fields, commitment} or {error}.
func parse(_ js.Value, args []js.Value) any {
	if len(args) != 1 {
		return map[string]any{"error": "parse takes the dataset's bytes"}
	}
	ds, err := records.Parse(bytesOf(args[0]))
	if err != nil {
		return map[string]any{"error": err.Error()}
	}
	fields := make([]any, len(ds.Fields))
	for i, f := range ds.Fields {
		fields[i] = f
	}
	return map[string]any{"records": ds.Len(), "fields": fields, "commitment": records.Commitment(ds).Hex()}
}

// verifyProof(proofJSON, sequencer) → {ok, height, tx_hash} or {error}:
// chain/proof.VerifyJSON, as `vsc chain verify-proof` runs it — the
// header's signature by the sequencer, the tx bytes' hash, the Merkle path
// to the header's tx root.
func verifyProof(_ js.Value, args []js.Value) any {
	if len(args) != 2 {
		return map[string]any{"error": "verifyProof takes (proof JSON, sequencer address)"}
	}
	if !common.IsHexAddress(args[1].String()) {
		return map[string]any{"error": fmt.Sprintf("the sequencer %q is not a 0x address", args[1].String())}
	}
	p, err := proof.VerifyJSON([]byte(args[0].String()), common.HexToAddress(args[1].String()))
	if err != nil {
		return map[string]any{"error": err.Error()}
	}
	out := map[string]any{"ok": true, "height": p.Header.Height, "proposer": p.Header.Proposer.Hex()}
	if p.TxHash != nil {
		out["tx_hash"] = p.TxHash.Hex()
	}
	return out
}

// prepareOptions is prepare's first argument.
type prepareOptions struct {
	API             string `json:"api"`   // the coordinator's base URL (the page's origin)
	Chain           string `json:"chain"` // the chain API ("" = the coordinator's /v1/chain/)
	Sequencer       string `json:"sequencer"`
	MinHeight       uint64 `json:"min_height"`
	AllowSimulation bool   `json:"allow_simulation"`
	IDAO            string `json:"idao"`
	Mode            string `json:"mode"`
	Class           string `json:"class"`
	Contributor     string `json:"contributor"`
}

// prepare(optionsJSON, Uint8Array) → Promise<{digest, typed_data, …}>:
// parse, commit, prove and check the enclave, encrypt, upload the blob.
func prepare(_ js.Value, args []js.Value) any {
	return promise(func(ctx context.Context) (any, error) {
		if len(args) != 2 {
			return nil, errors.New("prepare takes (options JSON, dataset bytes)")
		}
		var o prepareOptions
		if err := json.Unmarshal([]byte(args[0].String()), &o); err != nil {
			return nil, fmt.Errorf("prepare options: %w", err)
		}
		if !common.IsHexAddress(o.Sequencer) {
			return nil, fmt.Errorf("the sequencer %q is not a 0x address: the page needs the chain's sequencer to check proofs against", o.Sequencer)
		}
		if !common.IsHexAddress(o.Contributor) {
			return nil, fmt.Errorf("the wallet account %q is not a 0x address", o.Contributor)
		}
		c := client.New(o.API)
		c.Chain = o.Chain
		c.Trust = client.Trust{Sequencer: common.HexToAddress(o.Sequencer), MinHeight: o.MinHeight, AllowSimulation: o.AllowSimulation}
		p, err := c.Prepare(ctx, bytesOf(args[1]), client.PrepareOptions{IDAO: o.IDAO, Mode: idao.Mode(o.Mode), Class: o.Class,
			Contributor: common.HexToAddress(o.Contributor)})
		if err != nil {
			return nil, err
		}
		if err := c.UploadBlob(ctx, p.Submission.DataHash, p.Blob()); err != nil {
			return nil, err
		}
		p.Uploaded = true
		keep(p)
		td, err := json.Marshal(p.TypedData)
		if err != nil {
			return nil, err
		}
		sub, _ := json.Marshal(p.Submission)
		return map[string]any{"digest": p.Digest.Hex(), "typed_data": string(td), "submission": string(sub),
			"proven_at": p.ProvenAt, "simulation": p.Simulation, "chain_id": p.ChainID}, nil
	})
}

// keep remembers p for submit, forgetting the oldest past maxPrepared.
func keep(p *client.Prepared) {
	mu.Lock()
	defer mu.Unlock()
	if len(prepared) >= maxPrepared {
		clear(prepared)
	}
	prepared[p.Digest] = p
}

// submit(api, digest, signature) → Promise<submission view JSON>.
func submit(_ js.Value, args []js.Value) any {
	return promise(func(ctx context.Context) (any, error) {
		if len(args) != 3 {
			return nil, errors.New("submit takes (api, digest, signature)")
		}
		mu.Lock()
		p := prepared[common.HexToHash(args[1].String())]
		mu.Unlock()
		if p == nil {
			return nil, errors.New("no prepared submission with that digest in this page: prepare it again")
		}
		sig, err := hexutil.Decode(args[2].String())
		if err != nil {
			return nil, fmt.Errorf("the wallet's signature is not 0x hex: %w", err)
		}
		if err := p.Submission.Verify(p.ChainID, sig); err != nil {
			return nil, fmt.Errorf("the wallet's signature does not verify: %w", err)
		}
		v, _, err := client.New(args[0].String()).Submit(ctx, p.Request(sig), nil)
		if err != nil {
			return nil, err
		}
		b, err := json.Marshal(v)
		return string(b), err
	})
}

// promise runs f on a goroutine (a blocking call inside a js.Func would
// stall the page's event loop) and settles a Promise with its answer.
func promise(f func(ctx context.Context) (any, error)) js.Value {
	var handler js.Func
	handler = js.FuncOf(func(_ js.Value, pargs []js.Value) any {
		resolve, reject := pargs[0], pargs[1]
		go func() {
			defer handler.Release()
			ctx, cancel := context.WithTimeout(context.Background(), prepareTimeout)
			defer cancel()
			v, err := f(ctx)
			if err != nil {
				reject.Invoke(js.Global().Get("Error").New(err.Error()))
				return
			}
			resolve.Invoke(js.ValueOf(v))
		}()
		return nil
	})
	return js.Global().Get("Promise").New(handler)
}
