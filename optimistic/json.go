package optimistic

import (
	"encoding/json"
	"fmt"
	"math/big"
)

// Amounts are decimal strings in JSON (CONTRACT.md), so every language
// reads them exactly.

func amountString(x *big.Int) string {
	if x == nil {
		return "0"
	}
	return x.String()
}

func parseAmount(s, what string) (*big.Int, error) {
	if s == "" {
		return new(big.Int), nil
	}
	v, ok := new(big.Int).SetString(s, 10)
	if !ok || v.Sign() < 0 {
		return nil, fmt.Errorf("%s: %q is not a non-negative decimal amount", what, s)
	}
	return v, nil
}

type plainClaim Claim

// MarshalJSON writes the claim with its bond as a decimal string.
func (c Claim) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		plainClaim
		Bond string `json:"bond"`
	}{plainClaim(c), amountString(c.Bond)})
}

// UnmarshalJSON reads what MarshalJSON wrote.
func (c *Claim) UnmarshalJSON(b []byte) error {
	var w struct {
		*plainClaim
		Bond string `json:"bond"`
	}
	w.plainClaim = (*plainClaim)(c)
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	var err error
	c.Bond, err = parseAmount(w.Bond, "claim bond")
	return err
}

type plainGame Game

// MarshalJSON writes the game with its bond as a decimal string.
func (g Game) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		plainGame
		Bond string `json:"bond"`
	}{plainGame(g), amountString(g.Bond)})
}

// UnmarshalJSON reads what MarshalJSON wrote.
func (g *Game) UnmarshalJSON(b []byte) error {
	var w struct {
		*plainGame
		Bond string `json:"bond"`
	}
	w.plainGame = (*plainGame)(g)
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	var err error
	g.Bond, err = parseAmount(w.Bond, "game bond")
	return err
}

type plainParams Params

// MarshalJSON writes the bonds as decimal strings.
func (p Params) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		plainParams
		MinClaimBond     string `json:"min_claim_bond"`
		MinChallengeBond string `json:"min_challenge_bond"`
	}{plainParams(p), amountString(p.MinClaimBond), amountString(p.MinChallengeBond)})
}

// UnmarshalJSON reads what MarshalJSON wrote.
func (p *Params) UnmarshalJSON(b []byte) error {
	var w struct {
		*plainParams
		MinClaimBond     string `json:"min_claim_bond"`
		MinChallengeBond string `json:"min_challenge_bond"`
	}
	w.plainParams = (*plainParams)(p)
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	var err error
	if p.MinClaimBond, err = parseAmount(w.MinClaimBond, "min claim bond"); err != nil {
		return err
	}
	p.MinChallengeBond, err = parseAmount(w.MinChallengeBond, "min challenge bond")
	return err
}
