package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/vsc-labs/vsc/internal/cli"
	"github.com/vsc-labs/vsc/prover"
)

// zkShapeFlags are the flags that name a circuit shape and the key dir.
type zkShapeFlags struct {
	chunk, fields *int
	ranges, keys  *string
}

func addZKShapeFlags(fs *flag.FlagSet, env *cli.Env) zkShapeFlags {
	return zkShapeFlags{
		chunk:  fs.Int("chunk", prover.DefaultChunk, "records per chunk proof (a power of two; the coordinator's --zk-chunk)"),
		fields: fs.Int("fields", 4, "fields per record"),
		ranges: fs.String("ranges", "", "per-field ranges MIN:BITS,… (value in [MIN, MIN+2^BITS)); default: any int64"),
		keys:   fs.String("keys", env.Var("VSC_ZK_KEYS", filepath.Join(".data", "devnet", "zk-keys")), "zk key directory (VSC_ZK_KEYS; a devnet uses DATA/zk-keys)"),
	}
}

func (z zkShapeFlags) shape() (prover.Shape, error) {
	s, err := prover.ParseRanges(*z.chunk, *z.fields, *z.ranges)
	if err != nil {
		return s, cli.Usagef("--chunk/--fields/--ranges: %v", err)
	}
	return s, nil
}

type zkKeysResult struct {
	Shape       prover.Shape `json:"shape"`
	Name        string       `json:"name"`
	CircuitHash string       `json:"circuit_hash"`
	VKHash      string       `json:"vk_hash"`
	VKFile      string       `json:"vk_file"`
	Constraints int          `json:"constraints"`
	Origin      string       `json:"origin"`
	Millis      int64        `json:"ms"`
	// ZKShape is the policy entry to register (`vsc idao create --zk-shape`).
	ZKShape string `json:"zk_shape"`
}

func printZKKeys(stdout io.Writer, km *prover.KeyManager, k *prover.Keys, start time.Time, asJSON bool) error {
	res := zkKeysResult{Shape: k.Shape, Name: k.Shape.String(), CircuitHash: k.Hash.Hex(), VKHash: k.VK.Hash.Hex(),
		VKFile: filepath.Join(km.Dir(), "vk", k.VK.Hash.Hex()+".vk"), Constraints: k.Constraints(), Origin: k.Origin,
		Millis: time.Since(start).Milliseconds(), ZKShape: fmt.Sprintf("%d:%d:%s", k.Shape.Fields(), k.Shape.Chunk, k.VK.Hash.Hex())}
	if asJSON {
		return json.NewEncoder(stdout).Encode(res)
	}
	fmt.Fprintf(stdout, "%s: vk %s (%s keys, %d constraints)\nverifying key file: %s\nregister it with: vsc idao create … --zk-shape %s\n", res.Name, res.VKHash, res.Origin, res.Constraints, res.VKFile, res.ZKShape)
	if k.Origin == prover.OriginDev {
		fmt.Fprintln(stdout, "these keys come from a single-party setup: for development only (use `vscd zk import` with ceremony keys in production)")
	}
	return nil
}

// cmdZKSetup makes or loads the keys of a shape and prints the VK hash an
// iDAO registers.
func cmdZKSetup(ctx context.Context, env *cli.Env, args []string) error {
	fs := flag.NewFlagSet("zk setup", flag.ContinueOnError)
	z := addZKShapeFlags(fs, env)
	if _, err := cli.Parse(fs, args); err != nil {
		return err
	}
	s, err := z.shape()
	if err != nil {
		return err
	}
	km, err := prover.NewKeyManager(*z.keys, nil)
	if err != nil {
		return err
	}
	start := time.Now()
	k, err := km.Keys(ctx, s)
	if err != nil {
		return err
	}
	return printZKKeys(env.Stdout, km, k, start, env.JSON)
}

// cmdZKImport installs ceremony keys for a shape.
func cmdZKImport(ctx context.Context, env *cli.Env, args []string) error {
	fs := flag.NewFlagSet("zk import", flag.ContinueOnError)
	z := addZKShapeFlags(fs, env)
	pk := fs.String("pk", "", "proving key file (gnark's BN254 Groth16 encoding)")
	vk := fs.String("vk", "", "verifying key file (gnark's BN254 Groth16 encoding)")
	if _, err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *pk == "" || *vk == "" {
		return cli.Usagef("--pk FILE and --vk FILE are required")
	}
	s, err := z.shape()
	if err != nil {
		return err
	}
	km, err := prover.NewKeyManager(*z.keys, nil)
	if err != nil {
		return err
	}
	start := time.Now()
	k, err := km.Import(ctx, s, *pk, *vk)
	if err != nil {
		return err
	}
	return printZKKeys(env.Stdout, km, k, start, env.JSON)
}
