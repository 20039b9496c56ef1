// Package submission defines the signed submission a data contributor sends
// to an iDAO: its EIP-712 type (CONTRACT.md), its digest (which is also the
// submission id) and its signature check. The client, the coordinator, the
// workers and every quorum member use this one definition.
package submission

import (
	"crypto/ecdsa"
	"errors"
	"fmt"
	"math/big"
	"strconv"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/signer/core/apitypes"

	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/internal/eip712"
)

// TypeString is the EIP-712 type of a submission: CONTRACT.md's type with
// the declared field count appended (the type may grow, and a prepared
// file carries the type it was signed under).
const TypeString = "Submission(string idao,string mode,string class,address contributor,bytes32 dataHash," +
	"bytes32 commitment,uint64 records,bytes32 wrappedKeyHash,uint64 nonce,uint32 fields)"

var typeHash = eip712.StringWord(TypeString)

// Submission is the signed part of a contributor's request.
type Submission struct {
	IDAO           string         `json:"idao"`
	Mode           idao.Mode      `json:"mode"`
	Class          string         `json:"class"`
	Contributor    common.Address `json:"contributor"`
	DataHash       common.Hash    `json:"data_hash"`
	Commitment     common.Hash    `json:"commitment"`
	Records        uint64         `json:"records"`
	WrappedKeyHash common.Hash    `json:"wrapped_key_hash"`
	Nonce          uint64         `json:"nonce"`
	// Fields is the number of int64 fields of every record: it picks the
	// iDAO's zk circuit shape, and a dataset with another count is rejected.
	Fields uint32 `json:"fields" rlp:"optional"`
}

// StructHash returns hashStruct(Submission).
func (s *Submission) StructHash() common.Hash {
	return eip712.StructHash(common.Hash(typeHash),
		eip712.StringWord(s.IDAO),
		eip712.StringWord(string(s.Mode)),
		eip712.StringWord(s.Class),
		eip712.AddressWord(s.Contributor),
		s.DataHash,
		s.Commitment,
		eip712.Uint64Word(s.Records),
		s.WrappedKeyHash,
		eip712.Uint64Word(s.Nonce),
		eip712.Uint64Word(uint64(s.Fields)),
	)
}

// Digest returns the EIP-712 digest under chainID. It is the submission id.
func (s *Submission) Digest(chainID uint64) common.Hash {
	return eip712.Digest(chainID, s.StructHash())
}

// Sign signs the submission with key.
func (s *Submission) Sign(chainID uint64, key *ecdsa.PrivateKey) ([]byte, error) {
	return eip712.Sign(key, s.Digest(chainID))
}

// Errors of Verify.
var (
	ErrWrongSigner = errors.New("signature is not the contributor's")
)

// Verify checks that sig is the contributor's signature of s under chainID.
//
// The recovery is memoized process-wide (eip712.RecoverCached): the
// coordinator's intake, the TEE worker, every member and the chain check the
// same contributor signature, and where they share a process (the devnet) it
// is recovered once. A memo of a pure function gives the same answer as
// recomputing it, so each still checks the signature on its own terms.
func (s *Submission) Verify(chainID uint64, sig []byte) error {
	who, err := eip712.RecoverCached(s.Digest(chainID), sig)
	if err != nil {
		return err
	}
	if who != s.Contributor {
		return fmt.Errorf("%w: signed by %s, contributor is %s", ErrWrongSigner, who.Hex(), s.Contributor.Hex())
	}
	return nil
}

// TypedData returns the submission in the form eth_signTypedData_v4 takes.
func (s *Submission) TypedData(chainID uint64) eip712.TypedData {
	return eip712.TypedData{
		Types: apitypes.Types{
			"EIP712Domain": eip712.DomainType,
			"Submission": {
				{Name: "idao", Type: "string"},
				{Name: "mode", Type: "string"},
				{Name: "class", Type: "string"},
				{Name: "contributor", Type: "address"},
				{Name: "dataHash", Type: "bytes32"},
				{Name: "commitment", Type: "bytes32"},
				{Name: "records", Type: "uint64"},
				{Name: "wrappedKeyHash", Type: "bytes32"},
				{Name: "nonce", Type: "uint64"},
				{Name: "fields", Type: "uint32"},
			},
		},
		PrimaryType: "Submission",
		Domain:      eip712.Domain(chainID),
		Message: apitypes.TypedDataMessage{
			"idao":           s.IDAO,
			"mode":           string(s.Mode),
			"class":          s.Class,
			"contributor":    s.Contributor.Hex(),
			"dataHash":       hexutil.Encode(s.DataHash[:]),
			"commitment":     hexutil.Encode(s.Commitment[:]),
			"records":        (*big.Int)(new(big.Int).SetUint64(s.Records)).String(),
			"wrappedKeyHash": hexutil.Encode(s.WrappedKeyHash[:]),
			"nonce":          strconv.FormatUint(s.Nonce, 10),
			"fields":         strconv.FormatUint(uint64(s.Fields), 10),
		},
	}
}
