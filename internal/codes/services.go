package codes

import "net/http"

// The data services' API refusals (11xx): why the coordinator refuses a
// job before routing it. Nothing is charged for a refused job.
const (
	JobNotTokenOwner Code = 1100 + iota
	JobTooFewUnits
	JobTokenExpired
	JobFeeBelowProvider
	JobEscrowShort
	JobNonceUsed
	JobDeadlinePassed
	JobUnknownProvider
	JobProviderNotAttested
	JobQueryHash
	JobQueryRefused
	JobWrongClass
	JobUnknownToken
	JobNotFound
)

// A job's answer key (the Web UI decrypting an answer in the browser):
// the coordinator refuses a bad binding before routing the job, and the
// provider's enclave fails such a job before running it (numbers from the
// Web UI's block, 12xx).
const (
	// AnswerKeyInvalid: the answer key is no compressed secp256k1 public
	// key, or its signature is not 65 bytes or does not recover.
	AnswerKeyInvalid Code = 1210
	// AnswerKeyNotBound: the answer key's signature is not the app's over
	// AnswerKey(request, key) for this very request.
	AnswerKeyNotBound Code = 1211
)

var serviceAPICodes = []entry{
	{JobNotTokenOwner, "job_not_token_owner", http.StatusForbidden, "the app signing the job does not own the token"},
	{JobTooFewUnits, "job_too_few_units", http.StatusUnprocessableEntity, "the token holds fewer units than the job spends"},
	{JobTokenExpired, "job_token_expired", http.StatusUnprocessableEntity, "the token has expired"},
	{JobFeeBelowProvider, "job_fee_below_provider", http.StatusUnprocessableEntity, "the job's max fee is below the provider's fee"},
	{JobEscrowShort, "job_escrow_short", http.StatusPaymentRequired, "the app's sub-account with the provider does not cover the max fee"},
	{JobNonceUsed, "job_nonce_used", http.StatusConflict, "the job's nonce is not above the last one used with this provider"},
	{JobDeadlinePassed, "job_deadline_passed", http.StatusUnprocessableEntity, "the job's deadline is not in the future"},
	{JobUnknownProvider, "job_unknown_provider", http.StatusNotFound, "there is no such data-service provider"},
	{JobProviderNotAttested, "job_provider_not_attested", http.StatusUnprocessableEntity, "the provider's enclave is not attested under its iDAO's TEE policy"},
	{JobQueryHash, "job_query_hash", http.StatusBadRequest, "the query text does not hash to the signed query hash"},
	{JobQueryRefused, "job_query_refused", http.StatusUnprocessableEntity, "the query is not allowed"},
	{JobWrongClass, "job_wrong_class", http.StatusUnprocessableEntity, "the token belongs to another class than the job names"},
	{JobUnknownToken, "job_unknown_token", http.StatusNotFound, "there is no such DAT token"},
	{JobNotFound, "job_not_found", http.StatusNotFound, "there is no such job"},
	{AnswerKeyInvalid, "answer_key_invalid", http.StatusBadRequest, "the answer key is not a compressed secp256k1 public key with a well-formed signature"},
	{AnswerKeyNotBound, "answer_key_not_bound", http.StatusUnauthorized, "the answer key is not bound to this job request by the app that signed it"},
}

// The client's checks of a job's answer (21xx).
const (
	// AnswerUnverified: the answer's enclave signature or attestation does
	// not check.
	AnswerUnverified Code = 2100 + iota
	// AnswerUndecryptable: the answer does not decrypt with the app's key.
	AnswerUndecryptable
	// JobTimeout: no answer before the client's timeout.
	JobTimeout
	// JobFailed: the job ended failed or expired.
	JobFailed
)

// The client's checks of an answer sealed to an answer key (22xx, the
// Web UI's block).
const (
	// AnswerKeyNotHeld: the answer is encrypted to an answer key whose
	// private half this client does not hold (the page that made it was
	// reloaded, or the file is read with the account key).
	AnswerKeyNotHeld Code = 2210
)

var serviceClientCodes = []entry{
	{AnswerUnverified, "answer_unverified", http.StatusBadGateway, "the answer's enclave signature or attestation does not check"},
	{AnswerUndecryptable, "answer_undecryptable", http.StatusBadGateway, "the answer does not decrypt with the app's key"},
	{JobTimeout, "job_timeout", http.StatusGatewayTimeout, "no answer came before the timeout"},
	{JobFailed, "job_failed", http.StatusUnprocessableEntity, "the job failed or expired"},
	{AnswerKeyNotHeld, "answer_key_not_held", http.StatusUnprocessableEntity, "the answer is encrypted to an answer key this client does not hold"},
}

// The chain's execution of data services (46xx): receipts and skipped
// settlement items. Numbers are consensus data: never reuse one.
const (
	EscrowZeroAmount     Code = 4600
	EscrowInsufficient   Code = 4601
	EscrowNothingPending Code = 4602
	EscrowLocked         Code = 4603
	JobNonce             Code = 4604
	JobDeadline          Code = 4605
	FeeBelowProvider     Code = 4606
	ProviderNotAttested  Code = 4607
	WrongEnclave         Code = 4608
	JobSettled           Code = 4609
	BadProviderKey       Code = 4610
	WrongProvider        Code = 4611
	UnknownProvider      Code = 4612
	ProviderExists       Code = 4613
	NoEscrowAccount      Code = 4614
	JobWrongTokenClass   Code = 4615
	BadProviderFee       Code = 4616
	ResultNotSigned      Code = 4617
	JobWrongApp          Code = 4618
	SettleBatchSize      Code = 4619
	JobID                Code = 4620
	BadMaxFee            Code = 4621
)

var serviceExecCodes = []entry{
	{EscrowZeroAmount, "escrow_zero_amount", unprocessable, "the escrow amount must be positive"},
	{EscrowInsufficient, "escrow_insufficient", unprocessable, "the sub-account holds less than asked"},
	{EscrowNothingPending, "escrow_nothing_pending", unprocessable, "no refund is pending"},
	{EscrowLocked, "escrow_locked", unprocessable, "the refund is still locked"},
	{JobNonce, "job_nonce", http.StatusConflict, "a job with this nonce is settled already"},
	{JobDeadline, "job_deadline", unprocessable, "the job's deadline has passed"},
	{FeeBelowProvider, "fee_below_provider", unprocessable, "the job's max fee is below the provider's fee"},
	{ProviderNotAttested, "provider_not_attested", unprocessable, "the provider's enclave is not attested under the iDAO's TEE policy"},
	{WrongEnclave, "wrong_enclave", unprocessable, "the result batch is not signed by the provider's enclave key"},
	{JobSettled, "job_settled", http.StatusConflict, "the job is settled already"},
	{BadProviderKey, "bad_provider_key", unprocessable, "the enclave key did not sign this provider's registration"},
	{WrongProvider, "wrong_provider", unprocessable, "the job names another provider"},
	{UnknownProvider, "unknown_provider", http.StatusNotFound, "there is no such provider"},
	{ProviderExists, "provider_exists", http.StatusConflict, "the account is a provider already"},
	{NoEscrowAccount, "no_escrow_account", http.StatusNotFound, "there is no such sub-account"},
	{JobWrongTokenClass, "job_wrong_token_class", unprocessable, "the token belongs to another class than the job names"},
	{BadProviderFee, "bad_provider_fee", unprocessable, "the provider's fee must not be negative"},
	{ResultNotSigned, "result_not_signed", unprocessable, "the result is not in the batch the enclave signed"},
	{JobWrongApp, "job_wrong_app", unprocessable, "the job request is not signed by the app it names"},
	{SettleBatchSize, "settle_batch_size", unprocessable, "a settlement holds 1 to tx.MaxSettleBatch items"},
	{JobID, "job_id", unprocessable, "the job id is not the digest of the signed request"},
	{BadMaxFee, "bad_max_fee", unprocessable, "the job's max fee is not a uint256"},
}
