//go:build js && wasm

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"syscall/js"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/vsc-labs/vsc/coordinator"
	"github.com/vsc-labs/vsc/coordinator/client"
	"github.com/vsc-labs/vsc/internal/jobreq"
	"github.com/vsc-labs/vsc/tee"
)

// Data-service queries from the class page: the SDK builds the JobRequest
// (coordinator/client JobRequest, as `vsc query` does), the wallet signs
// its typed data, the SDK sends it, and the SDK's VerifyEnvelope checks
// the answer in the page.

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
}

// jobRequest(optionsJSON) → Promise<{request, typed_data, digest,
// chain_id}>: the unsigned request for the wallet to sign.
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
		return map[string]any{"request": string(req), "typed_data": string(td), "digest": rq.Digest(chainID).Hex(), "chain_id": chainID}, nil
	})
}

// submitJob(api, chainID, requestJSON, signature, query) → Promise<job
// view JSON>: checks the wallet's signature recovers, then POST /v1/jobs.
func submitJob(_ js.Value, args []js.Value) any {
	return promise(func(ctx context.Context) (any, error) {
		if len(args) != 5 {
			return nil, errors.New("submitJob takes (api, chain id, request JSON, signature, query)")
		}
		var rq jobreq.Request
		if err := json.Unmarshal([]byte(args[2].String()), &rq); err != nil {
			return nil, fmt.Errorf("the job request: %w", err)
		}
		sig, err := hexutil.Decode(args[3].String())
		if err != nil {
			return nil, fmt.Errorf("the wallet's signature is not 0x hex: %w", err)
		}
		if _, _, err := rq.Recover(uint64(args[1].Int()), sig); err != nil {
			return nil, fmt.Errorf("the wallet's signature does not verify: %w", err)
		}
		v, err := client.New(args[0].String()).SubmitJob(ctx, &coordinator.JobRequestBody{Request: rq, Signature: sig, Query: args[4].String()})
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
// iDAO and attests under its proven TEE policy, and it signed the batch
// holding (job ‖ result hash). Decrypting needs the app's private key,
// which a wallet does not expose; "saved" is the answer as `vsc job verify
// FILE --key` reads it.
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
		return map[string]any{"verified": true, "job": a.Job.Hex(), "result_hash": a.ResultHash.Hex(), "enclave": enclave.Hex(),
			"idao": a.IDAO, "proven_at": saved.ProvenAt, "simulated": pol.AllowSimulation,
			"batch_root": a.Proof.Root.Hex(), "batch_size": a.Proof.Size, "saved": string(file)}, nil
	})
}
