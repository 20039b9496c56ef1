package exec

import "errors"

// Errors a tx fails with (the optimistic game's are in optimistic.go).
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
	ErrNotOwner          = errors.New("only the owner may do this")
	ErrBadAmount         = errors.New("amount must be positive")
	ErrEnclaveRefused    = errors.New("enclave key refused")
	ErrAlreadyRegistered = errors.New("already registered")
	ErrMismatch          = errors.New("tx fields do not match the stored record")
	ErrWrongContributor  = errors.New("the anchored submission is not signed by its contributor")
	ErrSubmissionDigest  = errors.New("the anchor's submission id is not the digest of the signed submission it carries")
)
