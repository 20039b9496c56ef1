// Package idao is the iDAO registry's state and rules: an iDAO's name, owner,
// verification policy (which evidence modes it accepts, default DAT price,
// the TEE measurement policy blob, the ZK verifying-key hash, the unstake
// delay) and its members with their stake.
//
// It is also where the vocabulary of verification is defined once (mode.go):
// the evidence modes a policy accepts and a submission asks for (Mode) and
// the verification kinds each needs (Kind), which the coordinator routes,
// the bus names its job subjects after and members check.
//
// The rules are pure: values in, values out, time passed in as unix seconds.
// The chain stores an IDAO under one state key and applies these rules in
// its transactions; the coordinator reads the same types to route work and
// to weigh votes.
package idao
