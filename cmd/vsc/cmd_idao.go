package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/big"
	"os"
	"strconv"
	"strings"

	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/chain/tx"
	"github.com/vsc-labs/vsc/coordinator/client"
	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/internal/cli"
	"github.com/vsc-labs/vsc/internal/keys"
	"github.com/vsc-labs/vsc/tee"
)

func parseAmount(s, flagName string) (*big.Int, error) {
	v, ok := new(big.Int).SetString(s, 10)
	if !ok || v.Sign() < 0 {
		return nil, cli.Usagef("--%s %q is not a non-negative integer amount (base units)", flagName, s)
	}
	return v, nil
}

func idaoCreate(ctx context.Context, env *cli.Env, args []string) error {
	fs := flag.NewFlagSet("idao create", flag.ContinueOnError)
	policy := fs.String("policy", "", "the default verification mode: tee, zk, tee+zk or optimistic")
	modes := fs.String("modes", "", "comma-separated modes accepted besides the policy's")
	price := fs.String("price", "0", "default DAT unit price, base units")
	stake := fs.String("stake", "0", "stake the creator puts in (joins as a member)")
	teePolicy := fs.String("tee-policy", "", "the enclave measurement policy members and clients check (JSON file)")
	vk := fs.String("vk", "", "hash of the zk verifying key members check proofs against")
	minGroup := fs.Uint64("min-group-size", 0, "data services' privacy floor: query groups with fewer records are suppressed (0: the default, 10)")
	keyFile := fs.String("key", "", "the creator's key (becomes the owner)")
	var shapes []idao.ZKShape
	fs.Func("zk-shape", "a zk circuit shape the iDAO accepts, FIELDS:CHUNK:VK_HASH as `vscd zk setup --json` prints it (repeat per field count)", func(v string) error {
		z, err := parseZKShape(v)
		shapes = append(shapes, z)
		return err
	})
	pos, err := cli.Parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || *policy == "" || *keyFile == "" {
		return cli.Usagef("vsc idao create NAME --policy tee+zk --key FILE")
	}
	p := idao.Policy{Modes: []idao.Mode{idao.Mode(*policy)}, MinGroupSize: *minGroup}
	for _, m := range strings.Split(*modes, ",") {
		if m = strings.TrimSpace(m); m != "" && m != *policy {
			p.Modes = append(p.Modes, idao.Mode(m))
		}
	}
	if p.Price, err = parseAmount(*price, "price"); err != nil {
		return err
	}
	st, err := parseAmount(*stake, "stake")
	if err != nil {
		return err
	}
	if *teePolicy != "" {
		raw, err := os.ReadFile(*teePolicy)
		if err != nil {
			return fmt.Errorf("--tee-policy: %w", err)
		}
		if _, err := tee.ParsePolicy(raw); err != nil {
			return fmt.Errorf("--tee-policy %s: %w", *teePolicy, err)
		}
		p.TEEPolicy = json.RawMessage(raw)
	}
	if *vk != "" {
		if len(common.FromHex(*vk)) != 32 {
			return cli.Usagef("--vk %q is not a 32-byte hash", *vk)
		}
		p.VKHash = common.HexToHash(*vk)
	}
	p.ZKShapes = shapes
	if !idao.ValidName(pos[0]) {
		return cli.Usagef("iDAO name %q: use 1-64 characters of a-z, 0-9, '-' or '_'", pos[0])
	}
	if err := p.Validate(); err != nil {
		return err
	}
	key, err := keys.Load(*keyFile)
	if err != nil {
		return err
	}
	got, err := client.New(env.API).SendChainTx(ctx, key, &tx.IDAOCreate{Name: pos[0], Policy: p, Stake: st})
	if err != nil {
		return err
	}
	out := map[string]any{"name": pos[0], "policy": *policy, "modes": p.Modes, "owner": keys.Address(key), "stake": st.String(), "tx": got.Hash}
	return env.Print(out, func(w io.Writer) {
		fmt.Fprintf(w, "created iDAO %s (policy %s, modes %s) owned by %s, tx %s\n", pos[0], *policy, idao.JoinModes(p.Modes, ","), keys.Address(key).Hex(), got.Hash.Hex())
	})
}

func idaoJoin(ctx context.Context, env *cli.Env, args []string) error {
	fs := flag.NewFlagSet("idao join", flag.ContinueOnError)
	stake := fs.String("stake", "", "amount to stake, base units")
	keyFile := fs.String("key", "", "the member's key")
	pos, err := cli.Parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || *stake == "" || *keyFile == "" {
		return cli.Usagef("vsc idao join NAME --stake N --key FILE")
	}
	amount, err := parseAmount(*stake, "stake")
	if err != nil {
		return err
	}
	if amount.Sign() == 0 {
		return cli.Usagef("--stake must be positive")
	}
	key, err := keys.Load(*keyFile)
	if err != nil {
		return err
	}
	got, err := client.New(env.API).SendChainTx(ctx, key, &tx.IDAOJoin{Name: pos[0], Amount: amount})
	if err != nil {
		return err
	}
	out := map[string]any{"name": pos[0], "member": keys.Address(key), "staked": amount.String(), "tx": got.Hash}
	return env.Print(out, func(w io.Writer) {
		fmt.Fprintf(w, "%s staked %s in iDAO %s, tx %s\n", keys.Address(key).Hex(), amount, pos[0], got.Hash.Hex())
	})
}

// maxEnclaveFile bounds the enclave key file read (a key and one report).
const maxEnclaveFile = 1 << 20

func idaoRegisterEnclave(ctx context.Context, env *cli.Env, args []string) error {
	fs := flag.NewFlagSet("idao register-enclave", flag.ContinueOnError)
	enclaveFile := fs.String("enclave", "", "the enclave key and attestation as `vscd worker --show-key --json` prints them")
	keyFile := fs.String("key", "", "the account that pays the fee")
	pos, err := cli.Parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || *enclaveFile == "" || *keyFile == "" {
		return cli.Usagef("vsc idao register-enclave NAME --enclave FILE --key FILE")
	}
	st, err := os.Stat(*enclaveFile)
	if err != nil {
		return fmt.Errorf("--enclave: %w", err)
	}
	if st.Size() > maxEnclaveFile {
		return fmt.Errorf("--enclave %s is over %d bytes: it is not `vscd worker --show-key --json` output", *enclaveFile, maxEnclaveFile)
	}
	raw, err := os.ReadFile(*enclaveFile)
	if err != nil {
		return fmt.Errorf("--enclave: %w", err)
	}
	var info tee.KeyInfo
	if err := json.Unmarshal(raw, &info); err != nil || len(info.PublicKey) == 0 {
		return fmt.Errorf("--enclave %s is not `vscd worker --show-key --json` output (%v)", *enclaveFile, err)
	}
	key, err := keys.Load(*keyFile)
	if err != nil {
		return err
	}
	got, err := client.New(env.API).SendChainTx(ctx, key, &tx.EnclaveRegister{IDAO: pos[0], PubKey: info.PublicKey, Report: tee.EncodeAttestation(info.Attestation)})
	if err != nil {
		return err
	}
	out := map[string]any{"idao": pos[0], "enclave": info.Address, "backend": info.Backend, "tx": got.Hash}
	return env.Print(out, func(w io.Writer) {
		fmt.Fprintf(w, "registered enclave %s (%s) for iDAO %s, tx %s\n", info.Address.Hex(), info.Backend, pos[0], got.Hash.Hex())
	})
}

// parseZKShape reads --zk-shape FIELDS:CHUNK:VK_HASH.
func parseZKShape(v string) (idao.ZKShape, error) {
	parts := strings.Split(v, ":")
	if len(parts) != 3 {
		return idao.ZKShape{}, fmt.Errorf("want FIELDS:CHUNK:VK_HASH, e.g. 4:256:0x…")
	}
	f, err1 := strconv.ParseUint(parts[0], 10, 32)
	c, err2 := strconv.ParseUint(parts[1], 10, 32)
	if err1 != nil || err2 != nil || len(common.FromHex(parts[2])) != 32 {
		return idao.ZKShape{}, fmt.Errorf("%q: want FIELDS:CHUNK:VK_HASH with a 32-byte hash", v)
	}
	return idao.ZKShape{Fields: uint32(f), Chunk: uint32(c), VKHash: common.HexToHash(parts[2])}, nil
}
