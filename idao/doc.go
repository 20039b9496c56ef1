// Package idao is the iDAO registry's state and rules: an iDAO's name, owner,
// verification policy (which evidence modes it accepts, default DAT price,
// the TEE measurement policy blob, the ZK verifying-key hash, the unstake
// delay) and its members with their stake.
//
// The rules are pure: values in, values out, time passed in as unix seconds.
// The chain stores an IDAO under one state key and applies these rules in
// its transactions; the coordinator reads the same types to route work and
// to weigh votes.
package idao
