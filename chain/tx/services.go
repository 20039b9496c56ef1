package tx

import (
	"math/big"

	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/internal/jobreq"
)

// ProviderRegister makes the sender a data-service provider of an iDAO:
// PubKey is an enclave key already registered (attested) for the iDAO,
// Binding the enclave key's signature of jobreq.ProviderBinding(chain id,
// sender), Fee what it charges per job, Stake what it locks from its
// balance.
type ProviderRegister struct {
	IDAO    string
	PubKey  []byte
	Binding []byte
	Fee     *big.Int
	Stake   *big.Int
}

// EscrowDeposit moves Amount from the sender's balance into its
// sub-account with Provider.
type EscrowDeposit struct {
	Provider common.Address
	Amount   *big.Int
}

// EscrowRefund asks Amount (nil or 0: all) of the sender's sub-account with
// Provider back; it is withdrawable once the chain's refund lock has passed.
type EscrowRefund struct {
	Provider common.Address
	Amount   *big.Int `rlp:"optional"`
}

// EscrowWithdraw returns the sender's unlocked refund from Provider to its
// balance.
type EscrowWithdraw struct {
	Provider common.Address
}

// ServiceSettle settles delivered jobs of the sender (a provider of iDAO
// IDAO) that its enclave answered in one batch: EnclaveSig is the enclave
// key's one signature of jobreq.BatchBinding(Root, Size), and each item
// proves its (request hash ‖ result hash) leaf under Root (a provider may
// settle any subset of a signed batch). Items are applied in order and
// each on its own: an item that does not check is skipped with a
// "job_skipped" event and the others land.
type ServiceSettle struct {
	IDAO       string
	Root       common.Hash
	Size       uint32
	EnclaveSig []byte
	Items      []SettleItem
}

// SettleItem is one delivered job: the app's signed request (ID is its
// EIP-712 digest, the job id), the hash of its result, and the path of its
// leaf in the enclave's signed batch.
type SettleItem struct {
	ID         common.Hash
	App        common.Address
	Request    jobreq.Request
	AppSig     []byte
	ResultHash common.Hash
	Index      uint32
	Path       []common.Hash
}

// Proof is item it's place in the settlement's signed batch.
func (b *ServiceSettle) Proof(it *SettleItem) *jobreq.Proof {
	return &jobreq.Proof{Root: b.Root, Size: b.Size, Index: it.Index, Path: it.Path, Signature: b.EnclaveSig}
}

// MaxSettleBatch bounds the items of a ServiceSettle (and so the batch an
// enclave signs for one: 128 items of about 540 bytes fit tx.MaxSize).
const MaxSettleBatch = 128

// settleGas is a settlement's: a base and, per item, two signature checks
// (cached per batch for the enclave's) and four state updates.
func settleGas(b Body) uint64 {
	g := uint64(50)
	if s, ok := b.(*ServiceSettle); ok {
		g += 60 * uint64(len(s.Items))
	}
	return g
}

func (*ProviderRegister) Kind() Kind { return KindProviderRegister }
func (*EscrowDeposit) Kind() Kind    { return KindEscrowDeposit }
func (*EscrowRefund) Kind() Kind     { return KindEscrowRefund }
func (*EscrowWithdraw) Kind() Kind   { return KindEscrowWithdraw }
func (*ServiceSettle) Kind() Kind    { return KindServiceSettle }
func (*DATQueryPolicy) Kind() Kind   { return KindDATQueryPolicy }

// DATQueryPolicy is a class's contributor restricting the queries apps may
// run over its data: Allowed names the aggregates (empty: every one),
// Columns the columns a query may mention (empty: every one). Enclaves
// answer a class's jobs under its latest policy.
type DATQueryPolicy struct {
	Class   common.Hash
	Allowed []string
	Columns []string
}
