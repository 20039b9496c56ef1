// Package jobreq is the data-service job request an app signs (EIP-712
// JobRequest under the vsc domain) and the binding an enclave signs over
// its answers: one signature over the Merkle root of (request hash ‖ result
// hash) leaves, checked by the chain's service_settle and by `vsc job
// verify`. It is pure: the coordinator, the provider's enclave, the chain
// and the client share it.
package jobreq

import (
	"crypto/ecdsa"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"strconv"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/signer/core/apitypes"

	"github.com/vsc-labs/vsc/internal/eip712"
	"github.com/vsc-labs/vsc/internal/merkle"
)

// TypeString is the EIP-712 type of a job request.
const TypeString = "JobRequest(bytes32 class,bytes32 token,address provider,bytes32 queryHash,uint64 units,uint256 maxFee,uint64 nonce,uint64 deadline)"

var typeHash = eip712.StringWord(TypeString)

// ErrWrongSigner is a signature that does not recover to the app named.
var ErrWrongSigner = errors.New("jobreq: the job request is not signed by the app it names")

// Request is what an app signs to spend Units of its DAT token on one
// query: the class and token, the provider that runs it, the query's hash,
// the most it pays, a nonce above its last settled one with that provider,
// and a deadline (unix seconds) after which it pays nothing.
type Request struct {
	Class     common.Hash    `json:"class"`
	Token     common.Hash    `json:"token"`
	Provider  common.Address `json:"provider"`
	QueryHash common.Hash    `json:"query_hash"`
	Units     uint64         `json:"units"`
	MaxFee    *big.Int       `json:"max_fee"`
	Nonce     uint64         `json:"nonce"`
	Deadline  uint64         `json:"deadline"`
}

// ErrBadMaxFee is a max fee that is not a uint256.
var ErrBadMaxFee = errors.New("jobreq: max fee must be a non-negative 256-bit integer")

// Valid checks what the EIP-712 type bounds: maxFee is a uint256.
func (r *Request) Valid() error {
	if r.MaxFee != nil && (r.MaxFee.Sign() < 0 || r.MaxFee.BitLen() > 256) {
		return ErrBadMaxFee
	}
	return nil
}

// maxFee is the fee word's value; a fee that is no uint256 (refused by
// Valid) hashes as the largest one instead of panicking.
func (r *Request) maxFee() *big.Int {
	switch {
	case r.MaxFee == nil:
		return new(big.Int)
	case r.Valid() != nil:
		return new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1))
	}
	return r.MaxFee
}

// StructHash is hashStruct(JobRequest).
func (r *Request) StructHash() common.Hash {
	var fee [32]byte
	r.maxFee().FillBytes(fee[:])
	return eip712.StructHash(common.Hash(typeHash), r.Class, r.Token, eip712.AddressWord(r.Provider), r.QueryHash,
		eip712.Uint64Word(r.Units), fee, eip712.Uint64Word(r.Nonce), eip712.Uint64Word(r.Deadline))
}

// Digest is the signed EIP-712 digest; it is also the job's id (the
// request hash).
func (r *Request) Digest(chainID uint64) common.Hash { return eip712.Digest(chainID, r.StructHash()) }

// Sign signs the request as the app key.
func (r *Request) Sign(chainID uint64, key *ecdsa.PrivateKey) ([]byte, error) {
	return eip712.Sign(key, r.Digest(chainID))
}

// Recover returns the app that signed the request and its public key (the
// key its answer is encrypted to).
func (r *Request) Recover(chainID uint64, sig []byte) (common.Address, *ecdsa.PublicKey, error) {
	pub, err := eip712.RecoverPubCached(r.Digest(chainID), sig)
	if err != nil {
		return common.Address{}, nil, err
	}
	return crypto.PubkeyToAddress(*pub), pub, nil
}

// Verify checks that app signed the request.
func (r *Request) Verify(chainID uint64, app common.Address, sig []byte) error {
	a, _, err := r.Recover(chainID, sig)
	if err != nil {
		return err
	}
	if a != app {
		return fmt.Errorf("%w: signed by %s, the job names %s", ErrWrongSigner, a.Hex(), app.Hex())
	}
	return nil
}

// TypedData is the request in the form eth_signTypedData_v4 takes.
func (r *Request) TypedData(chainID uint64) eip712.TypedData {
	return eip712.TypedData{
		Types: apitypes.Types{
			"EIP712Domain": eip712.DomainType,
			"JobRequest": {
				{Name: "class", Type: "bytes32"},
				{Name: "token", Type: "bytes32"},
				{Name: "provider", Type: "address"},
				{Name: "queryHash", Type: "bytes32"},
				{Name: "units", Type: "uint64"},
				{Name: "maxFee", Type: "uint256"},
				{Name: "nonce", Type: "uint64"},
				{Name: "deadline", Type: "uint64"},
			},
		},
		PrimaryType: "JobRequest",
		Domain:      eip712.Domain(chainID),
		Message: apitypes.TypedDataMessage{
			"class":     hexutil.Encode(r.Class[:]),
			"token":     hexutil.Encode(r.Token[:]),
			"provider":  r.Provider.Hex(),
			"queryHash": hexutil.Encode(r.QueryHash[:]),
			"units":     strconv.FormatUint(r.Units, 10),
			"maxFee":    r.maxFee().String(),
			"nonce":     strconv.FormatUint(r.Nonce, 10),
			"deadline":  strconv.FormatUint(r.Deadline, 10),
		},
	}
}

var (
	leafDomain  = []byte("vsc-job-result-v1")
	batchDomain = []byte("vsc-job-batch-v1")
	provDomain  = []byte("vsc-provider-v1")
)

// Leaf is what an enclave binds for one answered job:
// keccak256("vsc-job-result-v1" ‖ request hash ‖ result hash).
func Leaf(request, result common.Hash) common.Hash {
	return crypto.Keccak256Hash(leafDomain, request[:], result[:])
}

// BatchBinding is what an enclave signs for a batch of answered jobs:
// keccak256("vsc-job-batch-v1" ‖ Merkle root of the leaves ‖ size).
func BatchBinding(root common.Hash, size uint32) common.Hash {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], size)
	return crypto.Keccak256Hash(batchDomain, root[:], n[:])
}

// Proof places one job's leaf in a signed batch.
type Proof struct {
	Root  common.Hash   `json:"root"`
	Size  uint32        `json:"size"`
	Index uint32        `json:"index"`
	Path  []common.Hash `json:"path"`
	// Signature is the enclave key's signature of BatchBinding(Root, Size).
	Signature hexutil.Bytes `json:"signature"`
}

// ErrNotSigned is a result the enclave's batch does not hold.
var ErrNotSigned = errors.New("jobreq: the result is not in the batch the enclave signed")

// Signer returns the enclave address that signed the batch holding
// (request, result), or ErrNotSigned when the path does not lead to the
// signed root.
func (p *Proof) Signer(request, result common.Hash) (common.Address, error) {
	if p.Size == 0 || p.Index >= p.Size {
		return common.Address{}, fmt.Errorf("%w: index %d of %d", ErrNotSigned, p.Index, p.Size)
	}
	root, ok := merkle.Root(Leaf(request, result), p.Index, p.Size, p.Path)
	if !ok || root != p.Root {
		return common.Address{}, fmt.Errorf("%w: the path does not lead to the signed root", ErrNotSigned)
	}
	return eip712.RecoverCached(BatchBinding(p.Root, p.Size), p.Signature)
}

// SignBatch signs the batch of (request, result) pairs with the enclave
// key and returns each pair's proof.
func SignBatch(key *ecdsa.PrivateKey, requests, results []common.Hash) ([]Proof, error) {
	if len(requests) == 0 || len(requests) != len(results) || len(requests) > merkle.MaxSize {
		return nil, fmt.Errorf("jobreq: a batch holds 1 to %d pairs, got %d requests and %d results", merkle.MaxSize, len(requests), len(results))
	}
	leaves := make([]common.Hash, len(requests))
	for i := range requests {
		leaves[i] = Leaf(requests[i], results[i])
	}
	root, paths := merkle.Build(leaves)
	sig, err := eip712.Sign(key, BatchBinding(root, uint32(len(leaves))))
	if err != nil {
		return nil, err
	}
	out := make([]Proof, len(leaves))
	for i := range leaves {
		out[i] = Proof{Root: root, Size: uint32(len(leaves)), Index: uint32(i), Path: paths[i], Signature: sig}
	}
	return out, nil
}

// ProviderBinding is what an enclave key signs to let provider (an
// account) register it as a data-service provider on chainID: proof that
// the account holds a key the enclave agreed to serve under.
func ProviderBinding(chainID uint64, provider common.Address) common.Hash {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], chainID)
	return crypto.Keccak256Hash(provDomain, n[:], provider[:])
}
