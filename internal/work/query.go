package work

import (
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/vsc-labs/vsc/internal/codes"
	"github.com/vsc-labs/vsc/internal/jobreq"
	"github.com/vsc-labs/vsc/internal/submission"
)

// QueryJob is a data-service job the coordinator routes to one provider:
// the app's signed request and its query text, the class's dataset (the
// contributor's signed submission, whose blob the provider fetches by its
// data hash, and the data key wrapped to the iDAO's enclave), and the
// iDAO's privacy floor as the coordinator read it. The enclave believes
// neither the dataset nor the floor on this message: it reads the class,
// its iDAO's floor and the class's query policy from the chain, and checks
// an answer key's binding to the request itself.
type QueryJob struct {
	Job          common.Hash           `json:"job"`
	ChainID      uint64                `json:"chain_id"`
	IDAO         string                `json:"idao"`
	App          common.Address        `json:"app"`
	Request      jobreq.Request        `json:"request"`
	Signature    hexutil.Bytes         `json:"signature"`
	Query        string                `json:"query"`
	Submission   submission.Submission `json:"submission"`
	WrappedKey   hexutil.Bytes         `json:"wrapped_key"`
	MinGroupSize int                   `json:"min_group_size"`
	// AnswerKey, when set, is the key the app bound to the request for its
	// answer (the enclave checks the binding itself).
	AnswerKey *jobreq.AnswerKey `json:"answer_key,omitempty"`
}

// QueryAnswer is a provider's answer to a QueryJob: the signed, encrypted
// answer, or why the job failed (a query the enclave refused, data it
// could not open) with the failure's code.
type QueryAnswer struct {
	Job      common.Hash    `json:"job"`
	Provider common.Address `json:"provider"`
	Answer   *jobreq.Answer `json:"answer,omitempty"`
	Failed   string         `json:"failed,omitempty"`
	Code     codes.Code     `json:"code,omitempty"`
}
