package idao

import "strings"

// Mode is an evidence mode: which verifications a submission gets. An
// iDAO's policy lists the modes it accepts, a contributor signs the one
// a submission asks for. It is a string on every wire (JSON, EIP-712,
// the chain's RLP) exactly as spelt here.
type Mode string

// The evidence modes.
const (
	ModeTEE        Mode = "tee"
	ModeZK         Mode = "zk"
	ModeTEEZK      Mode = "tee+zk"
	ModeOptimistic Mode = "optimistic"
)

// Kind is one kind of verification: a TEE worker's evidence, a prover's
// proofs, or an optimistic claim. The coordinator routes one job per kind a
// mode needs (the bus's job subjects and the NATS roles are named after
// them), and members check each kind's evidence.
type Kind string

// The verification kinds.
const (
	KindTEE        Kind = "tee"
	KindZK         Kind = "zk"
	KindOptimistic Kind = "optimistic"
)

// modes is every mode with the kinds it needs, in the order the docs list
// them: the one table the rest of vsc reads.
var modes = []struct {
	mode  Mode
	kinds []Kind
}{
	{ModeTEE, []Kind{KindTEE}},
	{ModeZK, []Kind{KindZK}},
	{ModeTEEZK, []Kind{KindTEE, KindZK}},
	{ModeOptimistic, []Kind{KindOptimistic}},
}

// Modes returns every evidence mode.
func Modes() []Mode {
	out := make([]Mode, len(modes))
	for i, m := range modes {
		out[i] = m.mode
	}
	return out
}

// Kinds returns every verification kind.
func Kinds() []Kind { return []Kind{KindTEE, KindZK, KindOptimistic} }

// Valid reports whether m is one of the evidence modes.
func (m Mode) Valid() bool { return m.Kinds() != nil }

// Kinds returns the verification kinds mode m needs, in routing order
// ("tee+zk" → tee, zk); nil for a mode that is not one.
func (m Mode) Kinds() []Kind {
	for _, x := range modes {
		if x.mode == m {
			return append([]Kind(nil), x.kinds...)
		}
	}
	return nil
}

// Needs reports whether mode m needs verification kind k.
func (m Mode) Needs(k Kind) bool {
	for _, x := range m.Kinds() {
		if x == k {
			return true
		}
	}
	return false
}

// JoinModes joins modes with sep, as lists of them are printed.
func JoinModes(ms []Mode, sep string) string {
	s := make([]string, len(ms))
	for i, m := range ms {
		s[i] = string(m)
	}
	return strings.Join(s, sep)
}

// ModeList spells modes as the docs and errors do ("tee, zk, tee+zk or
// optimistic").
func ModeList(ms []Mode) string {
	s := make([]string, len(ms))
	for i, m := range ms {
		s[i] = string(m)
	}
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

// Valid reports whether k is one of the verification kinds.
func (k Kind) Valid() bool {
	for _, x := range Kinds() {
		if x == k {
			return true
		}
	}
	return false
}
