//go:build js && wasm

package main

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"syscall/js"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/coordinator"
	"github.com/vsc-labs/vsc/coordinator/client"
	"github.com/vsc-labs/vsc/internal/jobreq"
	"github.com/vsc-labs/vsc/tee"
)

// Data-service queries from the class page: the SDK builds the JobRequest
// (coordinator/client JobRequest, as `vsc query` does) and an answer key
// made here, the wallet signs both typed data (JobRequest and AnswerKey),
// the SDK sends them, the SDK's VerifyEnvelope checks the answer in the
// page and client.OpenAnswer — what `vsc job verify --key` runs — decrypts
// it with the answer key and checks the rows against the signed result
// hash. An answer key's private half never leaves this module's memory:
// the page's JavaScript holds only its public key, and a reload forgets it.

// trustOptions are the chain's trust anchors pinned in the page.
type trustOptions struct {
	API             string `json:"api"`
	Chain           string `json:"chain"`
	Sequencer       string `json:"sequencer"`
	MinHeight       uint64 `json:"min_height"`
	AllowSimulation bool   `json:"allow_simulation"`
}

func (o *trustOptions) client() (*client.Client, error) {
	if !common.IsHexAddress(o.Sequencer) {
		return nil, fmt.Errorf("the sequencer %q is not a 0x address: the page needs the chain's sequencer to check proofs against", o.Sequencer)
	}
	c := client.New(o.API)
	c.Chain = o.Chain
	c.Trust = client.Trust{Sequencer: common.HexToAddress(o.Sequencer), MinHeight: o.MinHeight, AllowSimulation: o.AllowSimulation}
	return c, nil
}

// jobOptions is jobRequest's argument.
type jobOptions struct {
	trustOptions
	Class    common.Hash    `json:"class"`
	Token    common.Hash    `json:"token"`
	Provider common.Address `json:"provider"` // zero: the first attested one
	Query    string         `json:"query"`
	Units    uint64         `json:"units"`
	MaxFee   string         `json:"max_fee"` // "": the provider's fee
	// AnswerKey makes an answer key for the job (kept here) and returns
	// its AnswerKey typed data for the wallet to sign too.
	AnswerKey bool `json:"answer_key"`
}

// maxAnswerKeys bounds the answer keys one page holds (the oldest is
// forgotten first).
const maxAnswerKeys = 64

var (
	keysMu     sync.Mutex
	answerKeys = map[string]*ecdsa.PrivateKey{} // compressed public key (0x hex) → private key
	keyOrder   []string
)

// newAnswerKey makes an answer key and keeps its private half in memory.
func newAnswerKey() (string, error) {
	priv, err := crypto.GenerateKey()
	if err != nil {
		return "", fmt.Errorf("make an answer key: %w", err)
	}
	pub := hexutil.Encode(crypto.CompressPubkey(&priv.PublicKey))
	keysMu.Lock()
	defer keysMu.Unlock()
	if len(keyOrder) >= maxAnswerKeys {
		delete(answerKeys, keyOrder[0])
		keyOrder = keyOrder[1:]
	}
	answerKeys[pub] = priv
	keyOrder = append(keyOrder, pub)
	return pub, nil
}

// heldAnswerKey is the private half of an answer key made in this page
// (nil: not held — another page's, or forgotten by a reload).
func heldAnswerKey(pub []byte) *ecdsa.PrivateKey {
	keysMu.Lock()
	defer keysMu.Unlock()
	return answerKeys[hexutil.Encode(pub)]
}

// jobRequest(optionsJSON) → Promise<{request, typed_data, digest,
// chain_id[, answer_key, answer_key_typed_data]}>: the unsigned request
// for the wallet to sign and, with options.answer_key, a fresh answer key
// (its public key) with the AnswerKey typed data binding it to the request.
func jobRequest(_ js.Value, args []js.Value) any {
	return promise(func(ctx context.Context) (any, error) {
		if len(args) != 1 {
			return nil, errors.New("jobRequest takes the options JSON")
		}
		var o jobOptions
		if err := json.Unmarshal([]byte(args[0].String()), &o); err != nil {
			return nil, fmt.Errorf("job options: %w", err)
		}
		c, err := o.client()
		if err != nil {
			return nil, err
		}
		qo := client.QueryOptions{Class: o.Class, Token: o.Token, Provider: o.Provider, Query: o.Query, Units: o.Units}
		if o.MaxFee != "" {
			fee, ok := new(big.Int).SetString(o.MaxFee, 10)
			if !ok || fee.Sign() < 0 {
				return nil, fmt.Errorf("max fee %q is not a non-negative integer of base units", o.MaxFee)
			}
			qo.MaxFee = fee
		}
		rq, chainID, err := c.JobRequest(ctx, &qo)
		if err != nil {
			return nil, err
		}
		req, _ := json.Marshal(rq)
		td, err := json.Marshal(rq.TypedData(chainID))
		if err != nil {
			return nil, err
		}
		out := map[string]any{"request": string(req), "typed_data": string(td), "digest": rq.Digest(chainID).Hex(), "chain_id": chainID}
		if o.AnswerKey {
			pub, err := newAnswerKey()
			if err != nil {
				return nil, err
			}
			akd, err := json.Marshal(jobreq.AnswerKeyTypedData(chainID, rq.Digest(chainID), hexutil.MustDecode(pub)))
			if err != nil {
				return nil, err
			}
			out["answer_key"], out["answer_key_typed_data"] = pub, string(akd)
		}
		return out, nil
	})
}

// submitJob(api, chainID, requestJSON, signature, query[, answerKey,
// answerKeySignature]) → Promise<job view JSON>: checks the wallet's
// signature recovers (and that its AnswerKey signature binds the answer
// key to this request, by the same account), then POST /v1/jobs.
func submitJob(_ js.Value, args []js.Value) any {
	return promise(func(ctx context.Context) (any, error) {
		if len(args) != 5 && len(args) != 7 {
			return nil, errors.New("submitJob takes (api, chain id, request JSON, signature, query[, answer key, answer key signature])")
		}
		var rq jobreq.Request
		if err := json.Unmarshal([]byte(args[2].String()), &rq); err != nil {
			return nil, fmt.Errorf("the job request: %w", err)
		}
		sig, err := hexutil.Decode(args[3].String())
		if err != nil {
			return nil, fmt.Errorf("the wallet's signature is not 0x hex: %w", err)
		}
		chainID := uint64(args[1].Int())
		app, _, err := rq.Recover(chainID, sig)
		if err != nil {
			return nil, fmt.Errorf("the wallet's signature does not verify: %w", err)
		}
		body := &coordinator.JobRequestBody{Request: rq, Signature: sig, Query: args[4].String()}
		if len(args) == 7 {
			key, err := hexutil.Decode(args[5].String())
			if err != nil || heldAnswerKey(key) == nil {
				return nil, fmt.Errorf("the answer key %q was not made in this page: build the request again", args[5].String())
			}
			aks, err := hexutil.Decode(args[6].String())
			if err != nil {
				return nil, fmt.Errorf("the wallet's AnswerKey signature is not 0x hex: %w", err)
			}
			body.AnswerKey = &jobreq.AnswerKey{Key: key, Signature: aks}
			if _, err := body.AnswerKey.Check(chainID, rq.Digest(chainID), app); err != nil {
				return nil, fmt.Errorf("the wallet's AnswerKey signature does not bind the answer key to this request: %w", err)
			}
		}
		v, err := client.New(args[0].String()).SubmitJob(ctx, body)
		if err != nil {
			return nil, err
		}
		b, err := json.Marshal(v)
		return string(b), err
	})
}

// verifyJob(trustJSON, answerJSON, app) → Promise<{verified, …}>:
// client.VerifyEnvelope, the checks `vsc query` makes that need no key —
// the request is app's, the enclave key is registered on chain for the
// iDAO and attests under its proven TEE policy, it signed the batch
// holding (job ‖ result hash), and an answer key is bound to the request
// by app. Then, for an answer sealed to an answer key this page holds,
// client.OpenAnswer (what `vsc job verify --key` runs) decrypts it and
// checks its rows hash to the signed result hash: "decrypted" is {columns,
// rows, suppressed_groups}. "answer_key" is the key the answer is sealed
// to ("": the account key, which a wallet never exposes) and
// "answer_key_held" whether this page holds it. "saved" is the answer as
// `vsc job verify FILE` reads it.
func verifyJob(_ js.Value, args []js.Value) any {
	return promise(func(ctx context.Context) (any, error) {
		if len(args) != 3 {
			return nil, errors.New("verifyJob takes (trust options JSON, answer JSON, app address)")
		}
		var o trustOptions
		if err := json.Unmarshal([]byte(args[0].String()), &o); err != nil {
			return nil, fmt.Errorf("trust options: %w", err)
		}
		c, err := o.client()
		if err != nil {
			return nil, err
		}
		var a jobreq.Answer
		if err := json.Unmarshal([]byte(args[1].String()), &a); err != nil {
			return nil, fmt.Errorf("the answer: %w", err)
		}
		if !common.IsHexAddress(args[2].String()) {
			return nil, fmt.Errorf("the app %q is not a 0x address", args[2].String())
		}
		saved, err := c.VerifyEnvelope(ctx, &a, common.HexToAddress(args[2].String()))
		if err != nil {
			return nil, err
		}
		enclave, _ := a.Proof.Signer(a.Job, a.ResultHash)
		file, err := json.MarshalIndent(saved, "", "  ")
		if err != nil {
			return nil, err
		}
		pol, _ := tee.ParsePolicy(saved.TEEPolicy)
		out := map[string]any{"verified": true, "job": a.Job.Hex(), "result_hash": a.ResultHash.Hex(), "enclave": enclave.Hex(),
			"idao": a.IDAO, "proven_at": saved.ProvenAt, "simulated": pol.AllowSimulation,
			"batch_root": a.Proof.Root.Hex(), "batch_size": a.Proof.Size, "saved": string(file),
			"answer_key": "", "answer_key_held": false}
		if a.AnswerKey != nil {
			out["answer_key"] = hexutil.Encode(a.AnswerKey.Key)
			if priv := heldAnswerKey(a.AnswerKey.Key); priv != nil {
				pl, err := client.OpenAnswer(&a, priv)
				if err != nil {
					return nil, err
				}
				out["answer_key_held"] = true
				out["decrypted"] = map[string]any{"columns": jsStrings(pl.Columns), "rows": jsRows(pl.Rows), "suppressed_groups": pl.SuppressedGroups}
			}
		}
		return out, nil
	})
}

// jsStrings and jsRows turn a result into values js.ValueOf takes.
func jsStrings(l []string) []any {
	out := make([]any, len(l))
	for i, v := range l {
		out[i] = v
	}
	return out
}

func jsRows(rs [][]string) []any {
	out := make([]any, len(rs))
	for i, r := range rs {
		out[i] = jsStrings(r)
	}
	return out
}
