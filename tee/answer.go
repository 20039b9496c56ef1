package tee

import (
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/internal/eip712"
	"github.com/vsc-labs/vsc/internal/envelope"
	"github.com/vsc-labs/vsc/internal/jobreq"
	"github.com/vsc-labs/vsc/internal/records"
	"github.com/vsc-labs/vsc/internal/submission"
)

// OpenDataset decrypts and parses a submission's dataset inside the
// enclave, for the data-service role that answers queries over it. The
// parsed records must stay in enclave memory (the query cache): the caller
// never logs, stores or sends them.
func (e *Enclave) OpenDataset(sub *submission.Submission, blob, wrapped []byte) (*records.Dataset, error) {
	if crypto.Keccak256Hash(wrapped) != sub.WrappedKeyHash {
		return nil, fmt.Errorf("%w: the wrapped data key does not hash to the submission's wrapped_key_hash", ErrJobInputs)
	}
	plain, err := envelope.Open(blob, wrapped, sub.DataHash, e.key)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrJobInputs, err)
	}
	ds, err := records.Parse(plain)
	clear(plain)
	if err != nil {
		return nil, fmt.Errorf("%w: the dataset does not parse%s", ErrJobInputs, parseErrorPlace(err))
	}
	return ds, nil
}

// SignJobBatch signs a batch of answered jobs, (request hash, result hash)
// pairs, with the enclave key: one signature over the batch's Merkle root
// (jobreq.BatchBinding), and each job's proof.
func (e *Enclave) SignJobBatch(requests, results []common.Hash) ([]jobreq.Proof, error) {
	return jobreq.SignBatch(e.key, requests, results)
}

// SignProviderBinding lets account provider register this enclave's key
// as a data-service provider on chainID (jobreq.ProviderBinding).
func (e *Enclave) SignProviderBinding(chainID uint64, provider common.Address) ([]byte, error) {
	return eip712.Sign(e.key, jobreq.ProviderBinding(chainID, provider))
}
