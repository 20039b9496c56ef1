package codes

import "net/http"

// The chain's door (3xxx): why the chain's API refuses a tx before any
// block (SubmitTx), or a read. The door also answers with the shared
// codes of the same meaning: BadSignature, NonceReplayed, NonceGap,
// NotFound, InvalidField, BadRequest and Internal. A tx that fails these
// checks when its block is built (it is invalid) is dropped from the block
// with the same code.
const (
	TxTooLarge          Code = 3001
	MalformedTx         Code = 3002
	WrongChain          Code = 3003
	NoncePending        Code = 3004
	FeeTooLow           Code = 3005
	InsufficientBalance Code = 3006
	KnownTx             Code = 3007
	SenderPendingFull   Code = 3008
	MempoolFull         Code = 3009
	NotSequencer        Code = 3010
	NotProducing        Code = 3011
	TxDropped           Code = 3012
	BadHash             Code = 3013
	BadAddress          Code = 3014
	BadBlockID          Code = 3015
	BadPubkey           Code = 3016
)

var chainDoorCodes = []entry{
	{TxTooLarge, "tx_too_large", http.StatusRequestEntityTooLarge, "the tx is over its size limit (tx.MaxSize)"},
	{MalformedTx, "malformed_tx", http.StatusBadRequest, "the bytes are not a canonical tx of a known kind"},
	{WrongChain, "wrong_chain", http.StatusBadRequest, "the tx is signed for another chain id"},
	{NoncePending, "nonce_pending", http.StatusBadRequest, "a tx with this nonce is already pending"},
	{FeeTooLow, "fee_too_low", http.StatusBadRequest, "the tx's max fee is below its fee"},
	{InsufficientBalance, "insufficient_balance", http.StatusBadRequest, "the sender's balance cannot pay for its pending txs and this one"},
	{KnownTx, "known_tx", http.StatusBadRequest, "the tx is already known"},
	{SenderPendingFull, "sender_pending_full", http.StatusTooManyRequests, "the sender has as many pending txs as the mempool takes from one sender"},
	{MempoolFull, "mempool_full", http.StatusServiceUnavailable, "the mempool is full"},
	{NotSequencer, "not_sequencer", http.StatusServiceUnavailable, "this node has no sequencer key: it produces no blocks"},
	{NotProducing, "not_producing", http.StatusServiceUnavailable, "this node's block production has stopped"},
	{TxDropped, "tx_dropped", http.StatusNotFound, "the tx was dropped from its block: it failed the pre-checks, and will never be included"},
	{BadHash, "bad_hash", http.StatusBadRequest, "a hash must be 0x followed by 64 hex digits"},
	{BadAddress, "bad_address", http.StatusBadRequest, "an address must be 0x followed by 40 hex digits"},
	{BadBlockID, "bad_block_id", http.StatusBadRequest, "a block id is a height or a 0x block hash"},
	{BadPubkey, "bad_pubkey", http.StatusBadRequest, "a pubkey must be a 0x-prefixed 65-byte uncompressed secp256k1 public key"},
}

// The chain's execution (4xxx): why a tx in a block failed, or why one item
// of a batch was skipped. A receipt holds the number, never the sentence:
// the numbers are consensus data (in every receipt root), so a number is
// never reused, renumbered or given another meaning, and which code an
// execution failure gets never changes once a chain has used it. Each
// concern has its hundred: 40xx accounts and any tx, 41xx iDAOs and their
// stake, 42xx anchors and QCs, 43xx DATs, 44xx bonds, 45xx the optimistic
// game.
const (
	TxFailed          Code = 4000
	InsufficientFunds Code = 4001
	UndeclaredAccess  Code = 4002
	BadAmount         Code = 4003
	Mismatch          Code = 4004

	NoSuchIDAO        Code = 4100
	IDAOExists        Code = 4101
	BadIDAOName       Code = 4102
	BadMode           Code = 4103
	NotIDAOOwner      Code = 4104
	NotMember         Code = 4105
	ZeroStake         Code = 4106
	InsufficientStake Code = 4107
	UnstakeTooEarly   Code = 4108
	NothingPending    Code = 4109
	BelowMinStake     Code = 4110
	MemberCap         Code = 4111
	UnstakeDelay      Code = 4112
	AlreadySlashed    Code = 4113
	EnclaveRefused    Code = 4114
	AlreadyRegistered Code = 4115
	NotEquivocal      Code = 4116

	SubmissionDigest Code = 4200
	WrongContributor Code = 4201
	AlreadyAnchored  Code = 4202
	StakeHeight      Code = 4203
	BadVoteSignature Code = 4204
	QCNotMember      Code = 4205
	DuplicateVote    Code = 4206
	WrongDigest      Code = 4207
	NoQuorum         Code = 4208
	MintMismatch     Code = 4209

	NoAnchor           Code = 4300
	AlreadyMinted      Code = 4301
	NotMinter          Code = 4302
	UnknownClass       Code = 4303
	UnknownToken       Code = 4304
	NotTokenOwner      Code = 4305
	TokenExpired       Code = 4306
	InsufficientUnits  Code = 4307
	ZeroUnits          Code = 4308
	WrongClass         Code = 4309
	InsufficientShares Code = 4310
	BadClass           Code = 4311
	SelfTransfer       Code = 4312

	UnknownBond Code = 4400
	BondExists  Code = 4401
	NotArbiter  Code = 4402

	ClaimExists   Code = 4500
	UnknownClaim  Code = 4501
	UnknownGame   Code = 4502
	GameExists    Code = 4503
	NotOptimistic Code = 4504
	BadClaim      Code = 4505
	BondTooSmall  Code = 4506
	WindowClosed  Code = 4507
	WindowOpen    Code = 4508
	ClaimClosed   Code = 4509
	GamesOpen     Code = 4510
	SelfChallenge Code = 4511
	NoDispute     Code = 4512
	WrongClaim    Code = 4513
	NotAParty     Code = 4514
	GameOver      Code = 4515
	NotYourTurn   Code = 4516
	ClockExpired  Code = 4517
	ClockRunning  Code = 4518
	OutOfRange    Code = 4519
	BadTraceProof Code = 4520
	StepStage     Code = 4521
	NotStepStage  Code = 4522
	BadState      Code = 4523
	BadRecord     Code = 4524
	BadDupWitness Code = 4525
	StepUnchanged Code = 4526
	BadGameParams Code = 4527
)

// Receipts of datasets and their zk shapes (47xx).
const (
	// BadZKShape: a policy's zk shapes are invalid (fields, chunk, ranges,
	// a missing key hash, two shapes for one field count).
	BadZKShape Code = 4700
)

// unprocessable is the status of an execution failure shown over HTTP (a
// receipt's failure is not itself an HTTP answer).
const unprocessable = http.StatusUnprocessableEntity

var chainExecCodes = []entry{
	{TxFailed, "tx_failed", unprocessable, "the tx failed in its body"},
	{InsufficientFunds, "insufficient_funds", unprocessable, "the sender's balance does not cover what the tx moves"},
	{UndeclaredAccess, "undeclared_access", unprocessable, "the tx touched a state key it did not declare"},
	{BadAmount, "bad_amount", unprocessable, "an amount must be positive (and within what it is taken from)"},
	{Mismatch, "mismatch", unprocessable, "the tx's fields do not match the stored record"},

	{NoSuchIDAO, "no_such_idao", http.StatusNotFound, "there is no such iDAO on chain"},
	{IDAOExists, "idao_exists", http.StatusConflict, "an iDAO of that name exists already"},
	{BadIDAOName, "bad_idao_name", unprocessable, "an iDAO name is 1-64 chars of a-z, 0-9, '-' or '_'"},
	{BadMode, "bad_mode", unprocessable, "a policy's modes are tee, zk, tee+zk or optimistic"},
	{NotIDAOOwner, "not_idao_owner", http.StatusForbidden, "only the iDAO's owner may do this"},
	{NotMember, "not_member", unprocessable, "the account is not a member of the iDAO"},
	{ZeroStake, "zero_stake", unprocessable, "a stake amount must be positive"},
	{InsufficientStake, "insufficient_stake", unprocessable, "the member holds less stake than asked"},
	{UnstakeTooEarly, "unstake_too_early", unprocessable, "the unstake delay has not passed"},
	{NothingPending, "nothing_pending", unprocessable, "no unstaked amount is waiting for release"},
	{BelowMinStake, "below_min_stake", unprocessable, "the stake would be below the chain's minimum"},
	{MemberCap, "member_cap", unprocessable, "the iDAO has as many members as the chain allows"},
	{UnstakeDelay, "unstake_delay", unprocessable, "the unstake delay is below the chain's minimum"},
	{AlreadySlashed, "already_slashed", http.StatusConflict, "the member was already slashed for this submission"},
	{EnclaveRefused, "enclave_refused", unprocessable, "the enclave key's attestation does not satisfy the iDAO's TEE policy"},
	{AlreadyRegistered, "already_registered", http.StatusConflict, "it is registered already"},
	{NotEquivocal, "not_equivocal", unprocessable, "the votes are not an equivocation of one member"},

	{SubmissionDigest, "submission_digest", unprocessable, "the anchor's submission id is not the digest of the signed submission it carries"},
	{WrongContributor, "wrong_contributor", unprocessable, "the submission is not signed by its contributor"},
	{AlreadyAnchored, "already_anchored", http.StatusConflict, "the digest is anchored already"},
	{StakeHeight, "stake_height", unprocessable, "the QC's stake height is not a recent committed height"},
	{BadVoteSignature, "bad_vote_signature", unprocessable, "a vote's signature is not its member's"},
	{QCNotMember, "qc_not_member", unprocessable, "a vote is by a non-member, or by a member whose stake the QC does not count"},
	{DuplicateVote, "duplicate_vote", unprocessable, "a member's vote is counted twice"},
	{WrongDigest, "wrong_digest", unprocessable, "a vote is for another submission or digest"},
	{NoQuorum, "no_quorum", unprocessable, "the approving stake is below 2/3 of the iDAO's stake"},
	{MintMismatch, "mint_mismatch", unprocessable, "the item's mint is for another digest or iDAO than its anchor"},

	{NoAnchor, "no_anchor", http.StatusNotFound, "no anchor certifies this digest"},
	{AlreadyMinted, "already_minted", http.StatusConflict, "the anchor's DAT class is minted already"},
	{NotMinter, "not_minter", http.StatusForbidden, "only the contributor may choose a DAT class's terms; any other account may mint only the default class"},
	{UnknownClass, "unknown_class", http.StatusNotFound, "there is no such DAT class"},
	{UnknownToken, "unknown_token", http.StatusNotFound, "there is no such DAT token"},
	{NotTokenOwner, "not_token_owner", http.StatusForbidden, "the sender does not own the token"},
	{TokenExpired, "token_expired", unprocessable, "the token has expired"},
	{InsufficientUnits, "insufficient_units", unprocessable, "the token holds fewer units than asked"},
	{ZeroUnits, "zero_units", unprocessable, "units must be positive"},
	{WrongClass, "wrong_class", unprocessable, "the token belongs to another class"},
	{InsufficientShares, "insufficient_shares", unprocessable, "the token holds fewer shares than asked"},
	{BadClass, "bad_class", unprocessable, "the class's parameters are not valid"},
	{SelfTransfer, "self_transfer", unprocessable, "the token already belongs to that account"},

	{UnknownBond, "unknown_bond", http.StatusNotFound, "there is no such bond"},
	{BondExists, "bond_exists", http.StatusConflict, "the bond id is used already"},
	{NotArbiter, "not_arbiter", http.StatusForbidden, "only the bond's arbiter may do this"},

	{ClaimExists, "claim_exists", http.StatusConflict, "the optimistic claim is posted already"},
	{UnknownClaim, "unknown_claim", http.StatusNotFound, "there is no such optimistic claim"},
	{UnknownGame, "unknown_game", http.StatusNotFound, "there is no such optimistic game"},
	{GameExists, "game_exists", http.StatusConflict, "this account challenged this claim already"},
	{NotOptimistic, "not_optimistic", unprocessable, "the submission is not in optimistic mode, or its iDAO does not accept it"},
	{BadClaim, "bad_claim", unprocessable, "the claim is malformed"},
	{BondTooSmall, "bond_too_small", unprocessable, "the bond is below the policy's minimum"},
	{WindowClosed, "window_closed", unprocessable, "the claim's challenge window has ended"},
	{WindowOpen, "window_open", unprocessable, "the claim's challenge window has not ended yet"},
	{ClaimClosed, "claim_closed", unprocessable, "the claim is finalized or overturned already"},
	{GamesOpen, "games_open", unprocessable, "the claim still has undecided games"},
	{SelfChallenge, "self_challenge", unprocessable, "the executor cannot challenge its own claim"},
	{NoDispute, "no_dispute", unprocessable, "the challenge's final state equals the claim's result"},
	{WrongClaim, "wrong_claim", unprocessable, "the game is not about this claim"},
	{NotAParty, "not_a_party", http.StatusForbidden, "the sender is neither the executor nor the challenger of this game"},
	{GameOver, "game_over", unprocessable, "the game is decided already"},
	{NotYourTurn, "not_your_turn", unprocessable, "it is the other side's turn"},
	{ClockExpired, "clock_expired", unprocessable, "the mover's clock has run out"},
	{ClockRunning, "clock_running", unprocessable, "the side to move still has time on its clock"},
	{OutOfRange, "out_of_range", unprocessable, "the move is not at the disputed range's midpoint"},
	{BadTraceProof, "bad_trace_proof", unprocessable, "the state hash does not prove against the trace root"},
	{StepStage, "step_stage", unprocessable, "the range is one step: post the single-step proof"},
	{NotStepStage, "not_step_stage", unprocessable, "the disputed range is still wider than one step"},
	{BadState, "bad_state", unprocessable, "the previous state does not decode or does not hash to the agreed state"},
	{BadRecord, "bad_record", unprocessable, "the record does not prove against the submission's commitment"},
	{BadDupWitness, "bad_dup_witness", unprocessable, "the duplicate witness is not an earlier identical record"},
	{StepUnchanged, "step_unchanged", unprocessable, "the step proof decides nothing new"},
	{BadGameParams, "bad_game_params", unprocessable, "the optimistic game's parameters are not valid"},
	{BadZKShape, "bad_zk_shape", unprocessable, "a policy's zk shapes are invalid"},
}
