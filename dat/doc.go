// Package dat holds the Data Anchoring Token (DAT) state and its rules, after
// the draft ERC-8028: a class per certified dataset or model, and tokens of a
// class that carry ownership, a usage quota (value) and a revenue share.
//
// The rules here are pure: they take values (a class, a token, the current
// time in unix seconds) and return values or errors. They do no I/O and read
// no clock, so the chain's state transition and the coordinator can both use
// them, and tests run in microseconds.
//
// Revenue accounting is exact integer arithmetic. A class keeps a scaled
// accumulator Acc (base units × AccScale per share) and the scaled remainder
// Carry of every deposit's division. A token's claimable revenue, scaled, is
// Credit + Shares×Acc − Debt. The invariant that CheckConservation pins is
//
//	Pool × AccScale == Σ tokens (Credit + Shares×Acc − Debt) + Carry
//
// so the pool always equals what holders can claim plus the dust kept in it,
// and nothing is created or lost.
package dat
