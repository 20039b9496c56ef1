package exec

import (
	"errors"

	"github.com/vsc-labs/vsc/chain/tx"
	"github.com/vsc-labs/vsc/dat"
	"github.com/vsc-labs/vsc/dat/escrow"
	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/internal/codes"
	"github.com/vsc-labs/vsc/internal/jobreq"
	"github.com/vsc-labs/vsc/internal/submission"
	"github.com/vsc-labs/vsc/optimistic"
	"github.com/vsc-labs/vsc/quorum"
)

// Errors a tx fails with (the optimistic game's are in optimistic.go).
// Receipts carry their codes (failureCodes), not their text.
var (
	ErrWrongChain        = errors.New("wrong chain id")
	ErrNonce             = errors.New("nonce does not match the account's next nonce")
	ErrFeeTooLow         = errors.New("max fee below the tx's fee")
	ErrInsufficientFunds = errors.New("insufficient balance")
	ErrUndeclaredAccess  = errors.New("tx touched a state key it did not declare")
	ErrUnknownIDAO       = errors.New("unknown iDAO")
	ErrIDAOExists        = errors.New("iDAO already exists")
	ErrNoAnchor          = errors.New("no anchor certifies this digest")
	ErrAlreadyAnchored   = errors.New("digest already anchored")
	ErrAlreadyMinted     = errors.New("anchor already minted")
	ErrNotMinter         = errors.New("only the contributor may choose a DAT class's terms; any other account may mint only the default class")
	ErrUnknownClass      = errors.New("unknown DAT class")
	ErrUnknownToken      = errors.New("unknown DAT token")
	ErrUnknownBond       = errors.New("unknown bond")
	ErrBondExists        = errors.New("bond id already used")
	ErrNotArbiter        = errors.New("only the bond's arbiter may do this")
	ErrBadAmount         = errors.New("amount must be positive")
	ErrEnclaveRefused    = errors.New("enclave key refused")
	ErrAlreadyRegistered = errors.New("already registered")
	ErrMismatch          = errors.New("tx fields do not match the stored record")
	ErrWrongContributor  = errors.New("the anchored submission is not signed by its contributor")
	ErrSubmissionDigest  = errors.New("the anchor's submission id is not the digest of the signed submission it carries")
	// ErrMintMismatch skips an anchor-batch item whose mint is not its
	// anchor's.
	ErrMintMismatch = errors.New("the mint is for another digest or iDAO")
	// ErrSettleBatch is a settlement with no items or too many.
	ErrSettleBatch = errors.New("settlement batch size out of range")
	// ErrJobID skips a settlement item whose id is not its request's digest.
	ErrJobID = errors.New("the job id is not the digest of the signed request")
)

// failureCodes gives each error a tx can fail with its code (name is the
// sentinel's, for TestFailureCodes, which checks every sentinel of the
// packages execution calls has a row). The code of a failure is consensus
// data: a row is never changed once a chain has used it, and a new
// sentinel gets a new code. A failure whose error wraps none of these is
// codes.TxFailed.
var failureCodes = []struct {
	name string
	err  error
	code codes.Code
}{
	// the pre-checks: a tx that fails them is invalid and never enters a
	// block (the door's codes; nonce and fee funds are coded where they fail)
	{"exec.ErrWrongChain", ErrWrongChain, codes.WrongChain},
	{"exec.ErrFeeTooLow", ErrFeeTooLow, codes.FeeTooLow},
	{"tx.ErrBadEncoding", tx.ErrBadEncoding, codes.MalformedTx},
	{"tx.ErrBadVersion", tx.ErrBadVersion, codes.MalformedTx},
	{"tx.ErrUnknownKind", tx.ErrUnknownKind, codes.MalformedTx},
	{"tx.ErrTooLarge", tx.ErrTooLarge, codes.TxTooLarge},
	{"tx.ErrBadSignature", tx.ErrBadSignature, codes.BadSignature},

	{"exec.ErrInsufficientFunds", ErrInsufficientFunds, codes.InsufficientFunds},
	{"exec.ErrUndeclaredAccess", ErrUndeclaredAccess, codes.UndeclaredAccess},
	{"exec.ErrBadAmount", ErrBadAmount, codes.BadAmount},
	{"exec.ErrMismatch", ErrMismatch, codes.Mismatch},

	{"exec.ErrUnknownIDAO", ErrUnknownIDAO, codes.NoSuchIDAO},
	{"exec.ErrIDAOExists", ErrIDAOExists, codes.IDAOExists},
	{"exec.ErrEnclaveRefused", ErrEnclaveRefused, codes.EnclaveRefused},
	{"exec.ErrAlreadyRegistered", ErrAlreadyRegistered, codes.AlreadyRegistered},
	{"idao.ErrBadName", idao.ErrBadName, codes.BadIDAOName},
	{"idao.ErrBadMode", idao.ErrBadMode, codes.BadMode},
	{"idao.ErrBadShape", idao.ErrBadShape, codes.BadZKShape},
	{"idao.ErrNotOwner", idao.ErrNotOwner, codes.NotIDAOOwner},
	{"idao.ErrNotMember", idao.ErrNotMember, codes.NotMember},
	{"idao.ErrZeroStake", idao.ErrZeroStake, codes.ZeroStake},
	{"idao.ErrInsufficientStake", idao.ErrInsufficientStake, codes.InsufficientStake},
	{"idao.ErrUnstakeTooEarly", idao.ErrUnstakeTooEarly, codes.UnstakeTooEarly},
	{"idao.ErrNothingPending", idao.ErrNothingPending, codes.NothingPending},
	{"idao.ErrBelowMinStake", idao.ErrBelowMinStake, codes.BelowMinStake},
	{"idao.ErrMemberCap", idao.ErrMemberCap, codes.MemberCap},
	{"idao.ErrUnstakeDelay", idao.ErrUnstakeDelay, codes.UnstakeDelay},
	{"idao.ErrAlreadySlashed", idao.ErrAlreadySlashed, codes.AlreadySlashed},
	{"quorum.ErrNotEquivocal", quorum.ErrNotEquivocal, codes.NotEquivocal},

	{"exec.ErrSubmissionDigest", ErrSubmissionDigest, codes.SubmissionDigest},
	{"exec.ErrWrongContributor", ErrWrongContributor, codes.WrongContributor},
	{"submission.ErrWrongSigner", submission.ErrWrongSigner, codes.WrongContributor},
	{"exec.ErrAlreadyAnchored", ErrAlreadyAnchored, codes.AlreadyAnchored},
	{"exec.ErrMintMismatch", ErrMintMismatch, codes.MintMismatch},
	{"idao.ErrStakeHeight", idao.ErrStakeHeight, codes.StakeHeight},
	{"quorum.ErrBadSignature", quorum.ErrBadSignature, codes.BadVoteSignature},
	{"quorum.ErrBadBatchProof", quorum.ErrBadBatchProof, codes.BadVoteSignature},
	{"quorum.ErrNotMember", quorum.ErrNotMember, codes.QCNotMember},
	{"quorum.ErrDuplicateVote", quorum.ErrDuplicateVote, codes.DuplicateVote},
	{"quorum.ErrWrongDigest", quorum.ErrWrongDigest, codes.WrongDigest},
	{"quorum.ErrNoQuorum", quorum.ErrNoQuorum, codes.NoQuorum},

	{"exec.ErrNoAnchor", ErrNoAnchor, codes.NoAnchor},
	{"exec.ErrAlreadyMinted", ErrAlreadyMinted, codes.AlreadyMinted},
	{"exec.ErrNotMinter", ErrNotMinter, codes.NotMinter},
	{"exec.ErrUnknownClass", ErrUnknownClass, codes.UnknownClass},
	{"exec.ErrUnknownToken", ErrUnknownToken, codes.UnknownToken},
	{"dat.ErrNotOwner", dat.ErrNotOwner, codes.NotTokenOwner},
	{"dat.ErrExpired", dat.ErrExpired, codes.TokenExpired},
	{"dat.ErrInsufficientUnits", dat.ErrInsufficientUnits, codes.InsufficientUnits},
	{"dat.ErrZeroUnits", dat.ErrZeroUnits, codes.ZeroUnits},
	{"dat.ErrWrongClass", dat.ErrWrongClass, codes.WrongClass},
	{"dat.ErrInsufficientShare", dat.ErrInsufficientShare, codes.InsufficientShares},
	{"dat.ErrBadClass", dat.ErrBadClass, codes.BadClass},
	{"dat.ErrSelfTransfer", dat.ErrSelfTransfer, codes.SelfTransfer},

	{"exec.ErrUnknownBond", ErrUnknownBond, codes.UnknownBond},
	{"exec.ErrBondExists", ErrBondExists, codes.BondExists},
	{"exec.ErrNotArbiter", ErrNotArbiter, codes.NotArbiter},

	{"exec.ErrClaimExists", ErrClaimExists, codes.ClaimExists},
	{"exec.ErrUnknownClaim", ErrUnknownClaim, codes.UnknownClaim},
	{"exec.ErrUnknownGame", ErrUnknownGame, codes.UnknownGame},
	{"exec.ErrGameExists", ErrGameExists, codes.GameExists},
	{"exec.ErrNotOptimistic", ErrNotOptimistic, codes.NotOptimistic},
	{"optimistic.ErrBadParams", optimistic.ErrBadParams, codes.BadGameParams},
	{"optimistic.ErrBadClaim", optimistic.ErrBadClaim, codes.BadClaim},
	{"optimistic.ErrBondTooSmall", optimistic.ErrBondTooSmall, codes.BondTooSmall},
	{"optimistic.ErrWindowClosed", optimistic.ErrWindowClosed, codes.WindowClosed},
	{"optimistic.ErrWindowOpen", optimistic.ErrWindowOpen, codes.WindowOpen},
	{"optimistic.ErrClaimClosed", optimistic.ErrClaimClosed, codes.ClaimClosed},
	{"optimistic.ErrGamesOpen", optimistic.ErrGamesOpen, codes.GamesOpen},
	{"optimistic.ErrSelfChallenge", optimistic.ErrSelfChallenge, codes.SelfChallenge},
	{"optimistic.ErrNoDispute", optimistic.ErrNoDispute, codes.NoDispute},
	{"optimistic.ErrWrongClaim", optimistic.ErrWrongClaim, codes.WrongClaim},
	{"optimistic.ErrNotAParty", optimistic.ErrNotAParty, codes.NotAParty},
	{"optimistic.ErrGameOver", optimistic.ErrGameOver, codes.GameOver},
	{"optimistic.ErrNotYourTurn", optimistic.ErrNotYourTurn, codes.NotYourTurn},
	{"optimistic.ErrClockExpired", optimistic.ErrClockExpired, codes.ClockExpired},
	{"optimistic.ErrClockRunning", optimistic.ErrClockRunning, codes.ClockRunning},
	{"optimistic.ErrOutOfRange", optimistic.ErrOutOfRange, codes.OutOfRange},
	{"optimistic.ErrBadTraceProof", optimistic.ErrBadTraceProof, codes.BadTraceProof},
	{"optimistic.ErrStepStage", optimistic.ErrStepStage, codes.StepStage},
	{"optimistic.ErrNotStepStage", optimistic.ErrNotStepStage, codes.NotStepStage},
	{"optimistic.ErrBadState", optimistic.ErrBadState, codes.BadState},
	{"optimistic.ErrBadRecord", optimistic.ErrBadRecord, codes.BadRecord},
	{"optimistic.ErrBadDupWitness", optimistic.ErrBadDupWitness, codes.BadDupWitness},
	{"optimistic.ErrStepUnchanged", optimistic.ErrStepUnchanged, codes.StepUnchanged},

	{"exec.ErrSettleBatch", ErrSettleBatch, codes.SettleBatchSize},
	{"exec.ErrJobID", ErrJobID, codes.JobID},
	{"escrow.ErrZeroAmount", escrow.ErrZeroAmount, codes.EscrowZeroAmount},
	{"escrow.ErrInsufficient", escrow.ErrInsufficient, codes.EscrowInsufficient},
	{"escrow.ErrNothingPending", escrow.ErrNothingPending, codes.EscrowNothingPending},
	{"escrow.ErrLocked", escrow.ErrLocked, codes.EscrowLocked},
	{"escrow.ErrNonce", escrow.ErrNonce, codes.JobNonce},
	{"escrow.ErrDeadline", escrow.ErrDeadline, codes.JobDeadline},
	{"escrow.ErrFeeBelowProvider", escrow.ErrFeeBelowProvider, codes.FeeBelowProvider},
	{"escrow.ErrNotAttested", escrow.ErrNotAttested, codes.ProviderNotAttested},
	{"escrow.ErrWrongEnclave", escrow.ErrWrongEnclave, codes.WrongEnclave},
	{"escrow.ErrAlreadySettled", escrow.ErrAlreadySettled, codes.JobSettled},
	{"escrow.ErrBadProviderKey", escrow.ErrBadProviderKey, codes.BadProviderKey},
	{"escrow.ErrWrongProvider", escrow.ErrWrongProvider, codes.WrongProvider},
	{"escrow.ErrUnknownProvider", escrow.ErrUnknownProvider, codes.UnknownProvider},
	{"escrow.ErrProviderExists", escrow.ErrProviderExists, codes.ProviderExists},
	{"escrow.ErrNoAccount", escrow.ErrNoAccount, codes.NoEscrowAccount},
	{"escrow.ErrWrongClass", escrow.ErrWrongClass, codes.JobWrongTokenClass},
	{"escrow.ErrBadFee", escrow.ErrBadFee, codes.BadProviderFee},
	{"jobreq.ErrNotSigned", jobreq.ErrNotSigned, codes.ResultNotSigned},
	{"jobreq.ErrWrongSigner", jobreq.ErrWrongSigner, codes.JobWrongApp},
	{"jobreq.ErrBadMaxFee", jobreq.ErrBadMaxFee, codes.BadMaxFee},
}

// failure is an error whose code its sentinel alone does not say (the
// nonce's, which the door splits into replayed and gap; the fee's funds,
// which the door names; a contributor signature that does not recover).
type failure struct {
	code codes.Code
	err  error
}

func (f *failure) Error() string { return f.err.Error() }
func (f *failure) Unwrap() error { return f.err }

// coded gives err the code c.
func coded(c codes.Code, err error) error { return &failure{code: c, err: err} }

// CodeOf is the failure code of an error a tx failed with: its explicit
// code, else its sentinel's (failureCodes), else codes.TxFailed.
func CodeOf(err error) codes.Code {
	if err == nil {
		return codes.OK
	}
	var f *failure
	if errors.As(err, &f) {
		return f.code
	}
	for _, row := range failureCodes {
		if errors.Is(err, row.err) {
			return row.code
		}
	}
	return codes.TxFailed
}
