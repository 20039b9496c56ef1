package tx

import (
	"math/big"

	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/internal/submission"
	"github.com/vsc-labs/vsc/quorum"
)

// Kind says what a tx does; its body has the matching struct.
type Kind uint8

// Tx kinds. Values are part of the encoding: never renumber.
const (
	KindTransfer          Kind = 1
	KindIDAOCreate        Kind = 2
	KindIDAOJoin          Kind = 3
	KindIDAOLeave         Kind = 4
	KindIDAOWithdraw      Kind = 5
	KindIDAOSetPolicy     Kind = 6
	KindEnclaveRegister   Kind = 7
	KindVKRegister        Kind = 8
	KindAnchor            Kind = 9
	KindDATMint           Kind = 10
	KindDATBuy            Kind = 11
	KindDATRedeem         Kind = 12
	KindDATTransfer       Kind = 13
	KindDATClaim          Kind = 14
	KindBondLock          Kind = 15
	KindBondRelease       Kind = 16
	KindBondSlash         Kind = 17
	KindSlashEquivocation Kind = 18
	KindOptClaim          Kind = 19
	KindOptChallenge      Kind = 20
	KindOptMove           Kind = 21
	KindOptStep           Kind = 22
	KindOptTimeout        Kind = 23
	KindOptCancel         Kind = 24
	KindOptFinalize       Kind = 25
	KindAnchorBatch       Kind = 26
	KindProviderRegister  Kind = 27
	KindEscrowDeposit     Kind = 28
	KindEscrowRefund      Kind = 29
	KindEscrowWithdraw    Kind = 30
	KindServiceSettle     Kind = 31
	KindDATQueryPolicy    Kind = 32
)

// kindEntry is what package tx knows of a kind: its name (in APIs and
// logs), the body struct its encoding decodes into, and the work part of
// its gas (see Gas). What a kind does to the state is chain/exec's entry
// for the same kind.
type kindEntry struct {
	name string
	body func() Body
	gas  func(Body) uint64
}

// kinds is every tx kind, indexed by its number. Adding a kind is one entry
// here (and its body below), one in chain/exec, and their tests.
var kinds = [...]kindEntry{
	KindTransfer:          {"transfer", func() Body { return new(Transfer) }, flat(21)},
	KindIDAOCreate:        {"idao_create", func() Body { return new(IDAOCreate) }, flat(200)},
	KindIDAOJoin:          {"idao_join", func() Body { return new(IDAOJoin) }, flat(50)},
	KindIDAOLeave:         {"idao_leave", func() Body { return new(IDAOLeave) }, flat(50)},
	KindIDAOWithdraw:      {"idao_withdraw", func() Body { return new(IDAOWithdraw) }, flat(50)},
	KindIDAOSetPolicy:     {"idao_set_policy", func() Body { return new(IDAOSetPolicy) }, flat(80)},
	KindEnclaveRegister:   {"enclave_register", func() Body { return new(EnclaveRegister) }, flat(200)},
	KindVKRegister:        {"vk_register", func() Body { return new(VKRegister) }, flat(50)},
	KindAnchor:            {"anchor", func() Body { return new(Anchor) }, anchorGas},
	KindDATMint:           {"dat_mint", func() Body { return new(DATMint) }, flat(200)},
	KindDATBuy:            {"dat_buy", func() Body { return new(DATBuy) }, flat(80)},
	KindDATRedeem:         {"dat_redeem", func() Body { return new(DATRedeem) }, flat(40)},
	KindDATTransfer:       {"dat_transfer", func() Body { return new(DATTransfer) }, flat(60)},
	KindDATClaim:          {"dat_claim", func() Body { return new(DATClaim) }, flat(50)},
	KindBondLock:          {"bond_lock", func() Body { return new(BondLock) }, flat(50)},
	KindBondRelease:       {"bond_release", func() Body { return new(BondRelease) }, flat(50)},
	KindBondSlash:         {"bond_slash", func() Body { return new(BondSlash) }, flat(50)},
	KindSlashEquivocation: {"slash_equivocation", func() Body { return new(SlashEquivocation) }, flat(200)},
	KindOptClaim:          {"opt_claim", func() Body { return new(OptClaim) }, flat(150)},
	KindOptChallenge:      {"opt_challenge", func() Body { return new(OptChallenge) }, flat(150)},
	KindOptMove:           {"opt_move", func() Body { return new(OptMove) }, flat(50)},
	KindOptStep:           {"opt_step", func() Body { return new(OptStep) }, flat(400)}, // ≈ 50 Poseidon2 compressions
	KindOptTimeout:        {"opt_timeout", func() Body { return new(OptTimeout) }, flat(50)},
	KindOptCancel:         {"opt_cancel", func() Body { return new(OptCancel) }, flat(50)},
	KindOptFinalize:       {"opt_finalize", func() Body { return new(OptFinalize) }, flat(50)},
	KindAnchorBatch:       {"anchor_batch", func() Body { return new(AnchorBatch) }, anchorBatchGas},
	KindProviderRegister:  {"provider_register", func() Body { return new(ProviderRegister) }, flat(200)},
	KindEscrowDeposit:     {"escrow_deposit", func() Body { return new(EscrowDeposit) }, flat(40)},
	KindEscrowRefund:      {"escrow_refund", func() Body { return new(EscrowRefund) }, flat(40)},
	KindEscrowWithdraw:    {"escrow_withdraw", func() Body { return new(EscrowWithdraw) }, flat(40)},
	KindServiceSettle:     {"service_settle", func() Body { return new(ServiceSettle) }, settleGas},
	KindDATQueryPolicy:    {"dat_query_policy", func() Body { return new(DATQueryPolicy) }, flat(50)},
}

// entry is k's entry, or nil for a number that is no kind.
func (k Kind) entry() *kindEntry {
	if int(k) >= len(kinds) || kinds[k].body == nil {
		return nil
	}
	return &kinds[k]
}

// Kinds lists every tx kind, by number.
func Kinds() []Kind {
	var out []Kind
	for k := range kinds {
		if Kind(k).entry() != nil {
			out = append(out, Kind(k))
		}
	}
	return out
}

// Known reports whether k is a tx kind.
func (k Kind) Known() bool { return k.entry() != nil }

// String is the kind's name ("unknown" for a number that is no kind).
func (k Kind) String() string {
	if e := k.entry(); e != nil {
		return e.name
	}
	return "unknown"
}

// Body is the kind-specific part of a tx.
type Body interface{ Kind() Kind }

// newBody is an empty body of kind k to decode into (nil: no such kind).
func newBody(k Kind) Body {
	if e := k.entry(); e != nil {
		return e.body()
	}
	return nil
}

// Transfer moves native tokens.
type Transfer struct {
	To     common.Address
	Amount *big.Int
}

// IDAOCreate creates an iDAO owned by the sender, staking Stake (may be 0).
type IDAOCreate struct {
	Name   string
	Policy idao.Policy
	Stake  *big.Int
}

// IDAOJoin stakes Amount in an iDAO, joining it if needed.
type IDAOJoin struct {
	Name   string
	Amount *big.Int
}

// IDAOLeave asks Amount of stake back; it is released after the delay.
type IDAOLeave struct {
	Name   string
	Amount *big.Int
}

// IDAOWithdraw returns released stake to the sender's balance.
type IDAOWithdraw struct{ Name string }

// IDAOSetPolicy replaces an iDAO's policy (owner only).
type IDAOSetPolicy struct {
	Name   string
	Policy idao.Policy
}

// EnclaveRegister records an enclave public key and its attestation report
// for an iDAO's verifier set, once the node's EnclaveVerifier accepts it.
type EnclaveRegister struct {
	IDAO   string
	PubKey []byte
	Report []byte
}

// VKRegister records the hash of a ZK verifying key for an iDAO (owner only).
type VKRegister struct {
	IDAO    string
	Circuit string
	VKHash  common.Hash
}

// AnchorVote is one approving vote in an anchor: the member and its EIP-712
// signature over Vote(idao, submission, resultDigest, approve=true, reason=""),
// or, for a vote signed in a batch, over VoteBatch(root, size) with the
// vote's inclusion proof.
type AnchorVote struct {
	Member common.Address
	Sig    []byte
	Batch  *VoteBatchProof `rlp:"optional"`
}

// VoteBatchProof places a vote in a member's signed vote batch (see
// quorum.BatchProof).
type VoteBatchProof struct {
	Root  common.Hash
	Size  uint32
	Index uint32
	Path  []common.Hash
}

// Anchor records a certified result digest with the quorum's votes. It
// carries the contributor's signed submission and signature, not a
// contributor of the sender's choosing: the chain recomputes the
// submission's digest (it must be Submission), recovers the contributor from
// Signature (it must be Signed.Contributor) and takes contributor, data hash
// and commitment from the signed submission, so the DAT goes to the
// contributor whoever sends the anchor. StakeHeight names the committed
// height whose stake the QC is counted at (the rule is idao.QCStake's).
type Anchor struct {
	IDAO         string
	Submission   common.Hash // = Signed.Digest(chain id)
	ResultDigest common.Hash
	Signed       submission.Submission
	Signature    []byte // the contributor's EIP-712 signature of Signed
	StakeHeight  uint64
	Votes        []AnchorVote
}

// SubmissionURI is the URI of the default DAT class of a submission: the one
// any account may mint for an anchored digest (only the contributor may
// choose another).
func SubmissionURI(id common.Hash) string { return "vsc://submission/" + id.Hex() }

// AnchorBatch anchors many certified results and mints their DAT classes in
// one tx (one signature, one block). Items are applied in order and each on
// its own: an item that cannot apply (already anchored, a bad QC) is skipped
// with an "anchor_skipped" event and does not fail the others; its fee is
// still paid. Item i's first token id is NewTokenID(tx hash, i).
type AnchorBatch struct {
	Items []AnchorItem
}

// AnchorItem is one certified result of an AnchorBatch: its anchor and the
// mint of its class (Mint.Digest = Anchor.ResultDigest).
type AnchorItem struct {
	Anchor Anchor
	Mint   DATMint
}

// MaxAnchorBatch bounds the items of an AnchorBatch.
const MaxAnchorBatch = 256

// DATMint creates the DAT class of an anchored digest and gives its first
// token (all shares, FirstValue units) to the anchor's contributor. The
// contributor may choose the class's parameters; any other account may mint
// only the default class (zero Price, TotalShares, Validity and FirstValue,
// ClassKind empty or the submission's class, URI empty or SubmissionURI), so
// whoever anchored first cannot set a class's terms against its owner.
type DATMint struct {
	Digest      common.Hash
	IDAO        string
	ClassKind   string
	URI         string
	Price       *big.Int // 0: the iDAO policy's price
	TotalShares uint64   // 0: DefaultShares
	Validity    uint64   // seconds a bought token stays redeemable; 0 = forever
	FirstValue  uint64
}

// DefaultShares is a class's share count when a mint leaves it 0.
const DefaultShares = 1_000_000

// DATBuy pays Units × price into a class and creates a token of Units quota.
type DATBuy struct {
	Class common.Hash
	Units uint64
}

// DATRedeem uses Units of a token's quota.
type DATRedeem struct {
	Token common.Hash
	Units uint64
}

// DATTransfer gives a token to To (Value = Shares = 0), or splits Value
// units and Shares shares into a new token for To.
type DATTransfer struct {
	Class  common.Hash
	Token  common.Hash
	To     common.Address
	Value  uint64
	Shares uint64
}

// DATClaim pays a token's claimable revenue to its owner.
type DATClaim struct {
	Class common.Hash
	Token common.Hash
}

// BondLock locks Amount of the sender's balance under ID in the user-bond
// namespace (apart from the optimistic game's claim and challenge bonds, so
// no account can squat a game's bond id); only Arbiter may release or slash
// it.
type BondLock struct {
	ID      common.Hash
	Amount  *big.Int
	Arbiter common.Address
	Purpose string
}

// BondRelease returns a user bond to its Owner (arbiter only).
type BondRelease struct {
	ID    common.Hash
	Owner common.Address
}

// BondSlash takes a user bond: WinnerAmount goes to Winner, the rest is
// burned (arbiter only).
type BondSlash struct {
	ID           common.Hash
	Owner        common.Address
	Winner       common.Address
	WinnerAmount *big.Int
}

// EquivocationVote is a full vote as posted in an equivocation proof.
type EquivocationVote struct {
	Submission   common.Hash
	ResultDigest common.Hash
	Sig          []byte
	Batch        *VoteBatchProof `rlp:"optional"`
}

// SlashEquivocation proves a member signed two digests for one submission
// (First and Second, in either order); the optimistic policy's share of its
// stake goes to the sender, the rest is burned.
type SlashEquivocation struct {
	IDAO          string
	Member        common.Address
	First, Second EquivocationVote
}

// Kind implementations.
func (*Transfer) Kind() Kind          { return KindTransfer }
func (*IDAOCreate) Kind() Kind        { return KindIDAOCreate }
func (*IDAOJoin) Kind() Kind          { return KindIDAOJoin }
func (*IDAOLeave) Kind() Kind         { return KindIDAOLeave }
func (*IDAOWithdraw) Kind() Kind      { return KindIDAOWithdraw }
func (*IDAOSetPolicy) Kind() Kind     { return KindIDAOSetPolicy }
func (*EnclaveRegister) Kind() Kind   { return KindEnclaveRegister }
func (*VKRegister) Kind() Kind        { return KindVKRegister }
func (*Anchor) Kind() Kind            { return KindAnchor }
func (*DATMint) Kind() Kind           { return KindDATMint }
func (*DATBuy) Kind() Kind            { return KindDATBuy }
func (*DATRedeem) Kind() Kind         { return KindDATRedeem }
func (*DATTransfer) Kind() Kind       { return KindDATTransfer }
func (*DATClaim) Kind() Kind          { return KindDATClaim }
func (*BondLock) Kind() Kind          { return KindBondLock }
func (*BondRelease) Kind() Kind       { return KindBondRelease }
func (*BondSlash) Kind() Kind         { return KindBondSlash }
func (*SlashEquivocation) Kind() Kind { return KindSlashEquivocation }
func (*AnchorBatch) Kind() Kind       { return KindAnchorBatch }

// Quorum is the proof as package quorum checks it (nil: the vote is signed
// alone).
func (p *VoteBatchProof) Quorum() *quorum.BatchProof {
	if p == nil {
		return nil
	}
	return &quorum.BatchProof{Root: p.Root, Size: p.Size, Index: p.Index, Path: p.Path}
}

// BatchProofOf is the tx form of a vote's batch proof (nil: the vote is
// signed alone).
func BatchProofOf(p *quorum.BatchProof) *VoteBatchProof {
	if p == nil {
		return nil
	}
	return &VoteBatchProof{Root: p.Root, Size: p.Size, Index: p.Index, Path: p.Path}
}

// Vote is the i-th vote of the anchor as package quorum checks it: an
// approval of the anchor's digest by the member it names.
func (b *Anchor) Vote(i int) quorum.Vote {
	v := b.Votes[i]
	return quorum.Vote{IDAO: b.IDAO, Submission: b.Submission, ResultDigest: b.ResultDigest, Approve: true,
		Member: v.Member, Signature: v.Sig, Batch: v.Batch.Quorum()}
}

// QC rebuilds the quorum certificate the anchor carries.
func (b *Anchor) QC() *quorum.QC {
	q := &quorum.QC{IDAO: b.IDAO, Submission: b.Submission, ResultDigest: b.ResultDigest}
	for i := range b.Votes {
		q.Votes = append(q.Votes, b.Vote(i))
	}
	return q
}

// Vote is the vote as package quorum checks it: an approval, by whoever
// signed it, of the digest for the submission of iDAO dao.
func (v *EquivocationVote) Vote(dao string) quorum.Vote {
	return quorum.Vote{IDAO: dao, Submission: v.Submission, ResultDigest: v.ResultDigest, Approve: true,
		Signature: v.Sig, Batch: v.Batch.Quorum()}
}
