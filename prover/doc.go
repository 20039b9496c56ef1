// Package prover is vsc's zero-knowledge verifier: gnark Groth16 proofs over
// BN254 that a private dataset hashes to the commitment a contributor signed,
// that every value lies in its declared range, and that the public record
// count and per-field sums are right.
//
// A dataset of n records is proven in ⌈n/C⌉ chunks of C records (a [Shape]).
// Each chunk proof makes public the chunk's index, the root of its Merkle
// subtree, its record count and its per-field sums; the chunk roots recombine
// natively (records.CommitmentFromChunks) into the dataset commitment, so any
// number of provers can share one dataset, one chunk each (package
// prover/worker runs them over NATS JetStream).
//
// Keys: Groth16 needs a trusted setup per circuit shape. [KeyManager] makes
// one with gnark's single-party setup, caches it on disk under the circuit's
// hash and refuses files made for another circuit. A key made by vscd alone is
// for development only: whoever ran the setup could forge proofs. Production
// keys come from a multi-party ceremony and are loaded with
// [KeyManager.Import]. The verifying key travels as a self-describing bundle
// ([VerifyingKey]) whose keccak256 hash is what an iDAO registers on chain;
// every verifier loads the key by that hash.
//
// Every proof is made with the keccak256 hash-to-field option that gnark's
// Solidity verifier expects, so any chunk proof can also be checked on an EVM
// chain ([VerifyingKey.ExportSolidity], [Calldata]).
//
// The pure parts (shape, circuit, [VerifyEvidence]) do no I/O; key files and
// the worker are the edges.
package prover
