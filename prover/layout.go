package prover

import (
	"encoding/binary"
	"fmt"
)

// gnark's decoders allocate a slice as long as the length prefix they read
// before reading its elements, so a forged prefix in a proof or a key from
// outside could make them allocate gigabytes. These checks walk the
// compressed layouts first and refuse any length the bytes cannot hold.

const (
	g1Compressed = 32
	g2Compressed = 64
)

// checkProofLayout checks a compressed Groth16 proof with nbCommitments
// commitments: Ar(G1) ‖ Bs(G2) ‖ Krs(G1) ‖ uint32 n ‖ n×G1 ‖ PoK(G1).
func checkProofLayout(b []byte, nbCommitments int) error {
	head := 2*g1Compressed + g2Compressed
	want := head + 4 + nbCommitments*g1Compressed + g1Compressed
	if len(b) != want {
		return fmt.Errorf("proof has %d bytes, want %d", len(b), want)
	}
	if n := binary.BigEndian.Uint32(b[head:]); int(n) != nbCommitments {
		return fmt.Errorf("proof has %d commitments, want %d", n, nbCommitments)
	}
	return nil
}

// checkVKLayout checks a compressed gnark BN254 Groth16 verifying key:
// α1 β1 β2 γ2 δ1 δ2 ‖ uint32 k ‖ k×G1 ‖ uint32 c ‖ c×(uint32 m ‖ m×uint64) ‖
// uint32 c' ‖ c'×(G2 G2).
func checkVKLayout(b []byte) error {
	off := 3*g1Compressed + 3*g2Compressed
	u32 := func(what string) (int, error) {
		if len(b) < off+4 {
			return 0, fmt.Errorf("verifying key truncated at %s", what)
		}
		v := int(binary.BigEndian.Uint32(b[off:]))
		off += 4
		return v, nil
	}
	need := func(n, size int, what string) error {
		if n < 0 || n > (len(b)-off)/size {
			return fmt.Errorf("verifying key claims %d %s, more than its %d bytes hold", n, what, len(b))
		}
		off += n * size
		return nil
	}
	k, err := u32("K")
	if err != nil {
		return err
	}
	if err := need(k, g1Compressed, "K points"); err != nil {
		return err
	}
	c, err := u32("commitments")
	if err != nil {
		return err
	}
	if err := need(c, 4, "commitment lists"); err != nil {
		return err
	}
	off -= 4 * c
	for range c {
		m, err := u32("commitment list")
		if err != nil {
			return err
		}
		if err := need(m, 8, "committed inputs"); err != nil {
			return err
		}
	}
	ck, err := u32("commitment keys")
	if err != nil {
		return err
	}
	if err := need(ck, 2*g2Compressed, "commitment keys"); err != nil {
		return err
	}
	if off != len(b) {
		return fmt.Errorf("verifying key has %d trailing bytes", len(b)-off)
	}
	return nil
}
