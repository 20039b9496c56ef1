// Package tee is vsc's trusted-execution verifier: the enclave side that
// reads private data nobody else sees, and the pure check every quorum
// member, client and the chain runs on what the enclave says.
//
// Enclave side (runs inside the enclave, driven by tee/worker):
//
//   - Enclave identity: a secp256k1 key made inside the enclave on first
//     start and sealed to disk (Open, KeyFile), attested with report data
//     KeyID(pubkey) = keccak256("vsc-enclave-key-v1" ‖ pubkey). The key and
//     its attestation are registered on chain and served to clients, who
//     check them with VerifyKeyAttestation before wrapping a data key.
//   - Enclave.Process: check wrapped_key_hash and data_hash, unwrap the data
//     key, decrypt (internal/envelope), parse (internal/records), recompute
//     the commitment (records.Commitment) and the facts (tee/facts), and
//     return Evidence: result digest over (submission digest, commitment,
//     facts digest), a report binding keccak256(pubkey ‖ result digest) and
//     the enclave key's signature. A commitment or count that contradicts
//     the submission is an attested rejection. Plaintext never leaves Process.
//
// Verifier side (pure: values in, values out, no I/O, no clock):
// VerifyReport, VerifyKeyAttestation and VerifyEvidence, under a Policy
// (measurement, minimum security version, debug refused, accepted TCB
// statuses, allow_simulation). Every refusal has its own sentinel error.
//
// Backends: Ego (SGX through github.com/edgelesssys/ego, build tag `ego`;
// it refuses to start outside a real enclave) and Sim, a clearly marked
// SOFTWARE simulation whose reports are signed by a simulation root key and
// accepted only by policies with allow_simulation that list that root
// (SimPolicy). Each devnet and each sim worker makes its own random root on
// first start (SimRootFile, beside the sealed identity): a root known to
// anyone else would let them sign reports the policy accepts.
//
// In the flow: coordinator → NATS job "tee" → tee/worker → Enclave.Process
// → Result with Evidence → quorum members run VerifyEvidence → votes.
package tee
