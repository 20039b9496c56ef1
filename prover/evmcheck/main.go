// Command evmcheck is the end-to-end EVM check of the zk path: it proves
// chunks with vsc's prover (keccak256 hash-to-field), exports gnark's
// Solidity verifier for their key, compiles it with solc-js, deploys it on
// go-ethereum's in-memory EVM and calls verifyProof with the calldata of
// `vscd zk calldata`: valid proofs must pass, a flipped proof byte or an
// edited public input must revert. It is its own module so the EVM's
// dependencies stay out of vsc's go.mod:
//
//	cd prover/evmcheck && npm install && go run .
package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/ethereum/go-ethereum/core/vm/runtime"

	"github.com/vsc-labs/vsc/internal/records"
	"github.com/vsc-labs/vsc/prover"
)

func must(err error) {
	if err != nil {
		panic(err)
	}
}

func main() {
	failed := false
	expect := func(what string, err error, ok bool) {
		fmt.Printf("%-40s -> %v\n", what, errString(err))
		if (err == nil) != ok {
			failed = true
		}
	}
	km, err := prover.NewKeyManager("keys", nil)
	must(err)
	shape := prover.Shape{Chunk: 4, Ranges: []prover.Range{prover.UnsignedRange(16), prover.FullRange}}
	k, err := km.Keys(context.Background(), shape)
	must(err)
	var sol bytes.Buffer
	must(k.VK.ExportSolidity(&sol))
	must(os.WriteFile("Verifier.sol", sol.Bytes(), 0o644))
	out, err := exec.Command("node", "compile.js", "Verifier.sol").Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			fmt.Println(string(ee.Stderr))
		}
		panic(err)
	}
	code, err := hex.DecodeString(strings.TrimSpace(string(out)))
	must(err)
	cfg := &runtime.Config{GasLimit: 30_000_000}
	_, addr, _, err := runtime.Create(code, cfg)
	must(err)
	ds := &records.Dataset{Fields: []string{"u", "s"}, Records: [][]int64{{7, -9}, {65535, 1 << 62}, {0, -1}, {1, 2}, {3, -4}}}
	for chunk := 0; chunk < 2; chunk++ {
		cp, err := prover.ProveChunk(k, ds, chunk)
		must(err)
		call, err := prover.Calldata(cp)
		must(err)
		_, left, err := runtime.Call(addr, call.Calldata, cfg)
		expect(fmt.Sprintf("chunk %d valid (gas %d)", chunk, cfg.GasLimit-left), err, true)
		bad := append([]byte(nil), call.Calldata...)
		bad[len(bad)-100] ^= 1
		_, _, err = runtime.Call(addr, bad, cfg)
		expect(fmt.Sprintf("chunk %d flipped proof byte", chunk), err, false)
		cp2 := *cp
		cp2.Index = 1 - chunk
		call2, err := prover.Calldata(&cp2)
		must(err)
		_, _, err = runtime.Call(addr, call2.Calldata, cfg)
		expect(fmt.Sprintf("chunk %d claimed as chunk %d", chunk, cp2.Index), err, false)
		cp3 := *cp
		cp3.Sums = append([]string{"1"}, cp.Sums[1:]...)
		call3, err := prover.Calldata(&cp3)
		must(err)
		_, _, err = runtime.Call(addr, call3.Calldata, cfg)
		expect(fmt.Sprintf("chunk %d with an edited sum", chunk), err, false)
	}
	if failed {
		fmt.Println("FAIL")
		os.Exit(1)
	}
	fmt.Println("ok: the Solidity verifier accepts vsc's proofs and rejects tampered ones")
}

func errString(err error) string {
	if err == nil {
		return "accepted"
	}
	return "reverted (" + err.Error() + ")"
}
