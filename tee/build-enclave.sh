#!/bin/sh
# Builds and signs the SGX TEE worker (`make enclave`). Needs the ego
# toolchain (ego-go, ego sign: https://docs.edgeless.systems/ego) and, to
# run, an SGX machine with the DCAP quote provider. Output in build/enclave/:
#   vscd-enclave          signed enclave binary
#   enclave-signer.pem    the signer key (keep it: it fixes the SignerID)
# Run:   cd build/enclave && mkdir -p worker-data && NATS_URL=nats://… ego run vscd-enclave worker
# Policy: put the printed UniqueID (or SignerID + productID 1) in the iDAO's tee_policy.
set -eu
cd "$(dirname "$0")/.."
if ! command -v ego-go >/dev/null 2>&1 || ! command -v ego >/dev/null 2>&1; then
	echo "build-enclave: the ego toolchain (ego-go, ego) is not installed; see https://docs.edgeless.systems/ego/getting-started/install" >&2
	exit 1
fi
out=build/enclave
mkdir -p "$out"
CGO_ENABLED=1 ego-go build -trimpath -tags ego -o "$out/vscd-enclave" ./cmd/vscd
cp tee/enclave.json "$out/enclave.json"
cd "$out"
ego sign enclave.json
echo "UniqueID (MRENCLAVE): $(ego uniqueid vscd-enclave)"
echo "SignerID (MRSIGNER):  $(ego signerid vscd-enclave)"
