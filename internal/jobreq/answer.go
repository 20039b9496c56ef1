package jobreq

import (
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/crypto/ecies"
)

// Payload is the plaintext of an answer, which only the app can read:
// the job, its class and the dataset's commitment, the result and its hash.
type Payload struct {
	Job              common.Hash `json:"job"`
	Class            common.Hash `json:"class"`
	Commitment       common.Hash `json:"commitment"`
	Columns          []string    `json:"columns"`
	Rows             [][]string  `json:"rows"`
	SuppressedGroups int         `json:"suppressed_groups"`
	BelowFloor       bool        `json:"below_floor,omitempty"`
	ResultHash       common.Hash `json:"result_hash"`
}

// Answer is what a provider's enclave returns for a job and what `vsc
// query --out` saves: the signed request, the result encrypted to the
// app's key (recovered from its signature) or, when the job carried one,
// to its answer key (AnswerKey, bound to the request by the app), the
// result's hash and the enclave's batch signature over (request hash ‖
// result hash), with the enclave key and its attestation so the answer can
// be checked offline.
type Answer struct {
	Job        common.Hash   `json:"job"`
	ChainID    uint64        `json:"chain_id"`
	IDAO       string        `json:"idao"`
	Request    Request       `json:"request"`
	Signature  hexutil.Bytes `json:"signature"`
	Ciphertext hexutil.Bytes `json:"ciphertext"`
	// AnswerKey, when set, is the key Ciphertext is encrypted to instead
	// of the app's account key, with the app's binding signature.
	AnswerKey   *AnswerKey      `json:"answer_key,omitempty"`
	ResultHash  common.Hash     `json:"result_hash"`
	Proof       Proof           `json:"proof"`
	EnclaveKey  hexutil.Bytes   `json:"enclave_key"`
	Attestation json.RawMessage `json:"attestation"`
}

// Errors of an answer's checks.
var (
	ErrAnswerMismatch = errors.New("jobreq: the answer does not match its request")
	ErrUndecryptable  = errors.New("jobreq: the answer does not decrypt with this key")
)

// answerAAD binds an answer's ciphertext to its kind.
var answerAAD = []byte("vsc-job-answer-v1")

// Seal encrypts p to the app's public key (ECIES).
func Seal(p *Payload, app *ecdsa.PublicKey) ([]byte, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	return ecies.Encrypt(rand.Reader, ecies.ImportECDSAPublic(app), b, nil, answerAAD)
}

// Open decrypts an answer's ciphertext with the app's key.
func Open(ct []byte, key *ecdsa.PrivateKey) (*Payload, error) {
	b, err := ecies.ImportECDSA(key).Decrypt(ct, nil, answerAAD)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUndecryptable, err)
	}
	p := new(Payload)
	if err := json.Unmarshal(b, p); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUndecryptable, err)
	}
	return p, nil
}

// Check verifies what an answer claims that needs no key and no policy:
// the job id is the request's digest, the request is signed by app (zero:
// by anyone) and the enclave key signed the batch holding (job ‖ result
// hash), and an answer key, if the answer names one, is bound to the
// request by that app. It returns the app that signed. The caller still checks the
// enclave key's attestation against the iDAO's policy and, after
// decrypting, that the payload hashes to ResultHash (CheckPayload).
func (a *Answer) Check(app common.Address) (common.Address, error) {
	if a.Request.Digest(a.ChainID) != a.Job {
		return common.Address{}, fmt.Errorf("%w: job %s is not the request's digest", ErrAnswerMismatch, a.Job.Hex())
	}
	signer, _, err := a.Request.Recover(a.ChainID, a.Signature)
	if err != nil {
		return common.Address{}, err
	}
	if app != (common.Address{}) && signer != app {
		return common.Address{}, fmt.Errorf("%w: signed by %s, not %s", ErrWrongSigner, signer.Hex(), app.Hex())
	}
	if a.AnswerKey != nil {
		if _, err := a.AnswerKey.Check(a.ChainID, a.Job, signer); err != nil {
			return common.Address{}, err
		}
	}
	pub, err := crypto.UnmarshalPubkey(a.EnclaveKey)
	if err != nil {
		return common.Address{}, fmt.Errorf("%w: enclave key: %v", ErrAnswerMismatch, err)
	}
	enclave, err := a.Proof.Signer(a.Job, a.ResultHash)
	if err != nil {
		return common.Address{}, err
	}
	if enclave != crypto.PubkeyToAddress(*pub) {
		return common.Address{}, fmt.Errorf("%w: the batch is signed by %s, the answer names enclave %s", ErrNotSigned, enclave.Hex(), crypto.PubkeyToAddress(*pub).Hex())
	}
	return signer, nil
}

// CheckPayload verifies a decrypted payload belongs to the answer: same
// job and class, and its result hashes (by hash, the result's canonical
// hash function) to the signed ResultHash.
func (a *Answer) CheckPayload(p *Payload, hash func(*Payload) common.Hash) error {
	switch {
	case p.Job != a.Job || p.Class != a.Request.Class:
		return fmt.Errorf("%w: the payload is for job %s of class %s", ErrAnswerMismatch, p.Job.Hex(), p.Class.Hex())
	case p.ResultHash != a.ResultHash || hash(p) != a.ResultHash:
		return fmt.Errorf("%w: the decrypted result does not hash to the signed result hash %s", ErrNotSigned, a.ResultHash.Hex())
	}
	return nil
}
