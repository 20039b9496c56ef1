package state

import (
	"encoding/json"

	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/optimistic"
)

// Optimistic game state. Claims and games are stored in their
// JSON form (deterministic for these fixed structs; their facts parameters
// are signed integers, which RLP does not carry). Their bonds are ordinary
// Bond records under PrefixBond with the zero arbiter, so no account can
// release or slash them: only the game's rules do.
const (
	PrefixClaim = "o"
	PrefixGame  = "g"
	// PrefixOpenClaim indexes the claims still open or with undecided
	// games, so watchers list them without reading every claim ever made.
	PrefixOpenClaim = "O"
)

// OptimisticArbiter is the arbiter of claim and challenge bonds: the zero
// address, which no key signs for.
var OptimisticArbiter = common.Address{}

// ClaimKey is the key of an optimistic claim.
func ClaimKey(id common.Hash) string { return PrefixClaim + string(id[:]) }

// OpenClaimKey is the open-claims index entry of a claim.
func OpenClaimKey(id common.Hash) string { return PrefixOpenClaim + string(id[:]) }

// GameKey is the key of an optimistic game.
func GameKey(id common.Hash) string { return PrefixGame + string(id[:]) }

// EncodeClaim encodes a claim for the state.
func EncodeClaim(c *optimistic.Claim) []byte { return mustJSON(c) }

// EncodeGame encodes a game for the state.
func EncodeGame(g *optimistic.Game) []byte { return mustJSON(g) }

// DecodeClaim decodes a stored claim.
func DecodeClaim(b []byte) (*optimistic.Claim, error) {
	c := new(optimistic.Claim)
	return c, json.Unmarshal(b, c)
}

// DecodeGame decodes a stored game.
func DecodeGame(b []byte) (*optimistic.Game, error) {
	g := new(optimistic.Game)
	return g, json.Unmarshal(b, g)
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("state: encode " + err.Error()) // claims and games always encode
	}
	return b
}
