package tee

import (
	"crypto/ecdsa"
	"errors"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/internal/eip712"
)

// messageDomain separates an enclave's message signatures (a worker's
// result on the bus) from its result and key signatures.
var messageDomain = []byte("vsc-enclave-message-v1")

// MessageHash is what an enclave key signs to vouch for a message it sends:
// keccak256(domain ‖ digest), so such a signature never passes for an
// evidence signature (which signs a result digest or a batch binding).
func MessageHash(digest common.Hash) common.Hash {
	return crypto.Keccak256Hash(messageDomain, digest[:])
}

// SignMessage signs a message digest (a work.Result's) with the enclave key:
// the coordinator believes a worker's result only when the iDAO's enclave
// key signed it.
func (e *Enclave) SignMessage(digest common.Hash) ([]byte, error) {
	return crypto.Sign(MessageHash(digest).Bytes(), e.key)
}

// RecoverMessageSigner returns the key that signed a message digest with
// SignMessage.
func RecoverMessageSigner(digest common.Hash, sig []byte) (common.Address, error) {
	if len(sig) != crypto.SignatureLength {
		return common.Address{}, errors.New("tee: message signature is not 65 bytes")
	}
	return eip712.Recover(MessageHash(digest), sig)
}

// KeySigner signs messages like an enclave, with a key held outside one: a
// prover given the enclave key directly (prover/worker Config.EnclaveKey).
type KeySigner struct{ Key *ecdsa.PrivateKey }

// Address is the key's account.
func (k KeySigner) Address() common.Address { return crypto.PubkeyToAddress(k.Key.PublicKey) }

// SignMessage signs like Enclave.SignMessage.
func (k KeySigner) SignMessage(digest common.Hash) ([]byte, error) {
	return crypto.Sign(MessageHash(digest).Bytes(), k.Key)
}
