package state

import (
	"crypto/sha256"
	"encoding/binary"
	"io"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/rlp"
)

// State keys. Each is a one-byte prefix and the object's id; the prefixes
// are part of the consensus rules.
const (
	PrefixAccount = "a"
	PrefixIDAO    = "i"
	PrefixClass   = "c"
	PrefixToken   = "t"
	PrefixAnchor  = "n"
	PrefixBond    = "b" // the optimistic game's claim and challenge bonds
	PrefixEnclave = "e"
	PrefixVK      = "v"
	// PrefixUserBond holds the bonds accounts lock with bond_lock, apart
	// from the game's bonds, so that no account can take a claim's or a
	// game's bond id before the game does.
	PrefixUserBond = "u"
	// PrefixSlashed records the (member, submission) pairs an equivocation
	// proof has slashed, so a used proof never slashes again.
	PrefixSlashed = "s"
	// PrefixProvider holds data-service providers (by account),
	// PrefixEscrow apps' sub-accounts (by app and provider), PrefixJob
	// settled jobs (by request hash).
	PrefixProvider = "P"
	PrefixEscrow   = "X"
	PrefixJob      = "J"
	PrefixJobNonce = "K"
	// BurnedKey holds the total of burned base units (slashes).
	BurnedKey = "m/burned"
)

// AccountKey is the key of an account.
func AccountKey(a common.Address) string { return PrefixAccount + string(a[:]) }

// IDAOKey is the key of an iDAO.
func IDAOKey(name string) string { return PrefixIDAO + name }

// ClassKey is the key of a DAT class.
func ClassKey(id common.Hash) string { return PrefixClass + string(id[:]) }

// TokenKey is the key of a DAT token.
func TokenKey(id common.Hash) string { return PrefixToken + string(id[:]) }

// AnchorKey is the key of an anchored digest.
func AnchorKey(d common.Hash) string { return PrefixAnchor + string(d[:]) }

// BondKey is the key of a claim's or a game's bond.
func BondKey(id common.Hash) string { return PrefixBond + string(id[:]) }

// UserBondKey is the key of a bond locked by bond_lock.
func UserBondKey(id common.Hash) string { return PrefixUserBond + string(id[:]) }

// SlashedKey marks that member was slashed for equivocating on submission.
func SlashedKey(member common.Address, submission common.Hash) string {
	return PrefixSlashed + string(member[:]) + string(submission[:])
}

// EnclaveKey is the key of an enclave public key registered for an iDAO.
func EnclaveKey(idaoName string, pub []byte) string {
	h := sha256.Sum256(pub)
	return PrefixEnclave + string(h[:]) + idaoName
}

// ProviderKey is the key of a data-service provider.
func ProviderKey(a common.Address) string { return PrefixProvider + string(a[:]) }

// EscrowKey is the key of app's sub-account with provider.
func EscrowKey(app, provider common.Address) string {
	return PrefixEscrow + string(app[:]) + string(provider[:])
}

// JobKey is the key of a settled job.
func JobKey(id common.Hash) string { return PrefixJob + string(id[:]) }

// JobNonceKey marks that app's job nonce with provider is settled: each
// nonce settles once.
func JobNonceKey(app, provider common.Address, nonce uint64) string {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], nonce)
	return PrefixJobNonce + string(app[:]) + string(provider[:]) + string(n[:])
}

// VKKey is the key of a registered verifying-key hash.
func VKKey(h common.Hash) string { return PrefixVK + string(h[:]) }

// Account is a native-token account. Staked and Bonded mirror what the
// account holds in iDAOs and bonds, for display.
type Account struct {
	Nonce   uint64
	Balance *big.Int
	Staked  *big.Int
	Bonded  *big.Int
}

// EncodeRLP encodes the account without reflection (it is the hottest
// value of the chain); the bytes equal the reflective RLP of the struct.
func (a *Account) EncodeRLP(w io.Writer) error {
	buf := rlp.NewEncoderBuffer(w)
	l := buf.List()
	buf.WriteUint64(a.Nonce)
	for _, x := range []*big.Int{a.Balance, a.Staked, a.Bonded} {
		if x == nil {
			x = new(big.Int)
		}
		buf.WriteBigInt(x)
	}
	buf.ListEnd(l)
	return buf.Flush()
}

// DecodeRLP decodes what EncodeRLP wrote.
func (a *Account) DecodeRLP(s *rlp.Stream) error {
	if _, err := s.List(); err != nil {
		return err
	}
	var err error
	if a.Nonce, err = s.Uint64(); err != nil {
		return err
	}
	for _, x := range []**big.Int{&a.Balance, &a.Staked, &a.Bonded} {
		if *x, err = s.BigInt(); err != nil {
			return err
		}
	}
	return s.ListEnd()
}

// NewAccount returns a zero account.
func NewAccount() *Account {
	return &Account{Balance: new(big.Int), Staked: new(big.Int), Bonded: new(big.Int)}
}

// Anchor is an anchored result digest.
type Anchor struct {
	IDAO         string
	Submission   common.Hash
	ResultDigest common.Hash
	Contributor  common.Address
	DataHash     common.Hash
	Commitment   common.Hash
	Class        string // the signed submission's class (the default DAT class kind)
	QCHash       common.Hash
	Stake        *big.Int // approving stake, counted at StakeHeight
	StakeHeight  uint64
	Tx           common.Hash
	Height       uint64
	Sender       common.Address
	Minted       bool
}

// Bond is locked native tokens released or slashed by an arbiter.
type Bond struct {
	ID      common.Hash
	Owner   common.Address
	Amount  *big.Int
	Arbiter common.Address
	Purpose string
	Height  uint64
}

// Enclave is a registered enclave key.
type Enclave struct {
	IDAO   string
	PubKey []byte
	Report []byte
	Height uint64
}

// VK is a registered verifying-key hash.
type VK struct {
	IDAO    string
	Circuit string
	Hash    common.Hash
	Height  uint64
}

// Encode RLP-encodes a state value.
func Encode(v any) []byte {
	b, err := rlp.EncodeToBytes(v)
	if err != nil {
		panic("state: encode " + err.Error()) // all state types are encodable
	}
	return b
}

// Decode RLP-decodes a state value.
func Decode(b []byte, v any) error { return rlp.DecodeBytes(b, v) }
