// Package quorum holds what iDAO members sign and what the chain checks: the
// Vote (EIP-712 typed data under the vsc domain), the quorum certificate QC
// that bundles votes, and CheckQC, the pure stake-weighted check (≥ 2/3 of
// the iDAO's stake, each signer a member, each member counted once).
//
// The member node that re-verifies evidence and signs votes lives in
// quorum/member; this package is pure and is imported by the chain and the
// coordinator alike.
package quorum
