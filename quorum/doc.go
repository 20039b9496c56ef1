// Package quorum holds what iDAO members sign and what the chain checks: the
// Vote (EIP-712 typed data under the vsc domain), the quorum certificate QC
// that bundles votes, CheckQC, the pure stake-weighted check (each signer a
// member, each member counted once), and Tally, the ⅔-of-stake rule itself,
// which the chain's QC check, quorum.QCHeight and the coordinator's vote count
// share.
//
// The member node that re-verifies evidence and signs votes lives in
// quorum/member; this package is pure and is imported by the chain, idao
// and the coordinator alike (it imports none of them).
package quorum
