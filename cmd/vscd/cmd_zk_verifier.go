package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/internal/cli"
	"github.com/vsc-labs/vsc/prover"
)

var hashRE = regexp.MustCompile(`^0x[0-9a-fA-F]{64}$`)

// maxVKBytes bounds a verifying-key bundle read from a coordinator: a
// BN254 Groth16 key of the largest shape is a few KB, far below it.
const maxVKBytes = 16 << 20

// cmdZKExportVerifier runs `vscd zk export-verifier`: it writes gnark's
// Solidity verifier for a verifying key (a file, or a hash looked up in
// the key directory, then at a coordinator).
func cmdZKExportVerifier(ctx context.Context, env *cli.Env, args []string) error {
	fs := flag.NewFlagSet("zk export-verifier", flag.ContinueOnError)
	vkArg := fs.String("vk", "", "verifying key: a .vk file, or its 0x… hash (looked up in --keys, then fetched from --api)")
	out := fs.String("out", "Verifier.sol", "where to write the Solidity contract")
	keys := fs.String("keys", env.Var("VSC_ZK_KEYS", ""), "zk key directory to look a hash up in (VSC_ZK_KEYS)")
	api := fs.String("api", env.Var("VSC_API", "http://127.0.0.1:8080"), "coordinator API (to fetch a key by hash) (VSC_API)")
	if _, err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *vkArg == "" {
		return cli.Usagef("--vk FILE|HASH is required")
	}
	vk, err := resolveVK(ctx, *vkArg, *keys, *api)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := vk.ExportSolidity(&buf); err != nil {
		return fmt.Errorf("export verifier: %w", err)
	}
	if err := os.WriteFile(*out, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", *out, err)
	}
	inputs := []string{"index", "root", "count"}
	for f := range vk.Shape.Fields() {
		inputs = append(inputs, fmt.Sprintf("sum[%d]", f))
	}
	if env.JSON {
		return json.NewEncoder(env.Stdout).Encode(map[string]any{"vk_hash": vk.Hash.Hex(), "shape": vk.Shape, "out": *out,
			"public_inputs": inputs, "function": fmt.Sprintf("verifyProof(bytes,uint256[%d])", len(inputs))})
	}
	fmt.Fprintf(env.Stdout, "wrote %s: Solidity verifier for key %s (%s); verifyProof(bytes proof, uint256[%d] input) with input = %s\n",
		*out, vk.Hash.Hex(), vk.Shape, len(inputs), strings.Join(inputs, ", "))
	return nil
}

// resolveVK loads a verifying key from a file, from a key directory by
// hash, or from the coordinator by hash; a key found by hash must hash to it.
func resolveVK(ctx context.Context, arg, keysDir, api string) (*prover.VerifyingKey, error) {
	if !hashRE.MatchString(arg) {
		vk, err := prover.LoadVerifyingKey(arg, common.Hash{})
		if err != nil {
			return nil, fmt.Errorf("%w (give a .vk file or a 0x… key hash)", err)
		}
		return vk, nil
	}
	h := common.HexToHash(arg)
	if keysDir != "" {
		km, err := prover.NewKeyManager(keysDir, nil)
		if err != nil {
			return nil, err
		}
		vk, err := km.VerifyingKey(h)
		if err == nil || !errors.Is(err, prover.ErrUnknownVK) {
			return vk, err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	url := strings.TrimRight(api, "/") + "/v1/zk/vks/" + h.Hex()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch verifying key %s: %w (is the coordinator at %s? or pass --keys DIR or a .vk file)", h.Hex(), err, api)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxVKBytes))
	if err != nil {
		return nil, fmt.Errorf("fetch verifying key %s: %w", h.Hex(), err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("the coordinator has no verifying key %s (HTTP %d); pass --keys DIR or a .vk file", h.Hex(), resp.StatusCode)
	}
	if got := crypto.Keccak256Hash(body); got != h {
		return nil, fmt.Errorf("the coordinator sent a verifying key hashing to %s, not %s", got.Hex(), h.Hex())
	}
	return prover.ParseVerifyingKey(body)
}

// cmdZKCalldata runs `vscd zk calldata`: a chunk proof as calldata for
// the Solidity verifier's verifyProof.
func cmdZKCalldata(_ context.Context, env *cli.Env, args []string) error {
	fs := flag.NewFlagSet("zk calldata", flag.ContinueOnError)
	proofFile := fs.String("proof", "", "a chunk proof (JSON) or a whole zk evidence item (JSON, pick one with --chunk)")
	chunk := fs.Int("chunk", 0, "which chunk of an evidence file")
	if _, err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *proofFile == "" {
		return cli.Usagef("--proof FILE is required")
	}
	b, err := os.ReadFile(*proofFile)
	if err != nil {
		return err
	}
	cp, err := decodeChunkProof(b, *chunk)
	if err != nil {
		return fmt.Errorf("%s: %w", *proofFile, err)
	}
	call, err := prover.Calldata(cp)
	if err != nil {
		return fmt.Errorf("%s: %w", *proofFile, err)
	}
	if env.JSON {
		return json.NewEncoder(env.Stdout).Encode(call)
	}
	fmt.Fprintf(env.Stdout, "%s\n%s\n", call.Function, call.Calldata)
	return nil
}

// decodeChunkProof accepts a ChunkProof or an Evidence (chunk i of it).
func decodeChunkProof(b []byte, i int) (*prover.ChunkProof, error) {
	var probe struct {
		Chunks []prover.ChunkProof `json:"chunks"`
		Proof  json.RawMessage     `json:"proof"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return nil, fmt.Errorf("not a zk proof or evidence JSON file: %w", err)
	}
	if probe.Proof != nil {
		var cp prover.ChunkProof
		if err := json.Unmarshal(b, &cp); err != nil {
			return nil, err
		}
		return &cp, nil
	}
	if i < 0 || i >= len(probe.Chunks) {
		return nil, cli.Usagef("the evidence has %d chunks; --chunk %d is not one of them", len(probe.Chunks), i)
	}
	return &probe.Chunks[i], nil
}
