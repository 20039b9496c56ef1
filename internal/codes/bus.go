package codes

import "net/http"

// The bus (5xxx): why a message on NATS was refused for good (terminated,
// never redelivered) or dropped, logged with the message (attribute "code").
// The HTTP status says which class of refusal it is; no API answers with
// these.
const (
	// UndecodableJob: a job message that is not a job.
	UndecodableJob Code = 5000 + iota
	// UndecodableResult: a result message that is not a result.
	UndecodableResult
	// UndecodableVoteRequest: a vote-request message a member cannot decode.
	UndecodableVoteRequest
	// WrongSubject: a result published on another kind's subject.
	WrongSubject
	// MaxDeliveries: a message that failed on every delivery it was allowed.
	MaxDeliveries
	// UnsignedResult: a result not signed by the iDAO's enclave key.
	UnsignedResult
	// WrongKind: a result of a kind the submission's mode does not need.
	WrongKind
	// UnknownSubmission: a result or vote for a submission never stored.
	UnknownSubmission
	// BadEvidence: a signed result whose evidence does not verify (recorded
	// as a rejection).
	BadEvidence
	// MalformedVote: a vote message that does not decode.
	MalformedVote
	// NoChainLink: a vote, and no chain to read the members' stake from.
	NoChainLink
	// LateVote: a vote for a submission that is not voting.
	LateVote
	// VoteOtherIDAO: a vote signed for another iDAO than the submission's.
	VoteOtherIDAO
	// VoteBadSignature: a vote whose signature is not its member's.
	VoteBadSignature
	// VoteNotMember: a vote by an account with no stake in the iDAO.
	VoteNotMember
	// RefusalNotSent: a member's refusal of a vote request this coordinator
	// did not send.
	RefusalNotSent
)

var busCodes = []entry{
	{UndecodableJob, "undecodable_job", http.StatusBadRequest, "the job message does not decode"},
	{UndecodableResult, "undecodable_result", http.StatusBadRequest, "the result message does not decode"},
	{UndecodableVoteRequest, "undecodable_vote_request", http.StatusBadRequest, "the vote-request message does not decode"},
	{WrongSubject, "wrong_subject", http.StatusForbidden, "the result arrived on another kind's subject"},
	{MaxDeliveries, "max_deliveries", http.StatusServiceUnavailable, "the message failed on every delivery it was allowed"},
	{UnsignedResult, "unsigned_result", http.StatusUnauthorized, "the result is not signed by the iDAO's enclave key"},
	{WrongKind, "wrong_kind", http.StatusUnprocessableEntity, "the submission's mode does not need a result of this kind"},
	{UnknownSubmission, "unknown_submission", http.StatusNotFound, "the message is for a submission that was never stored"},
	{BadEvidence, "bad_evidence", http.StatusUnprocessableEntity, "the result's evidence does not verify"},
	{MalformedVote, "malformed_vote", http.StatusBadRequest, "the vote message does not decode"},
	{NoChainLink, "no_chain_link", http.StatusServiceUnavailable, "there is no chain to read the members' stake from"},
	{LateVote, "vote_not_voting", http.StatusConflict, "the vote is for a submission that is not voting"},
	{VoteOtherIDAO, "vote_other_idao", http.StatusForbidden, "the vote is signed for another iDAO than the submission's"},
	{VoteBadSignature, "vote_bad_signature", http.StatusUnauthorized, "the vote's signature is not its member's"},
	{VoteNotMember, "vote_not_member", http.StatusForbidden, "the vote is by an account with no stake in the iDAO"},
	{RefusalNotSent, "refusal_not_sent", http.StatusForbidden, "the refusal is of a vote request this coordinator did not send"},
}
