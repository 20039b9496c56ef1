// Package optimistic holds the rules of optimistic verification: claims with
// bonds, the challenge window, bisection games with chess clocks, the
// single-step check, resolution with slashing, and the honest strategy. It is
// pure Go — values in, values out, the clock passed in ("height": on the vsc
// chain the block time in unix ms, since blocks are sealed only when txs
// arrive and a block count would stand still on an idle chain) — so the
// chain (the referee), the watcher and `vsc challenge` share one definition.
//
// # The computation
//
// The claimed computation is the TEE's dataset facts (tee/facts), done record
// by record: state_0 = facts.New(fields, params), state_i =
// facts.Step(state_{i-1}, record_i, dup_i), and the claim's result is the
// digest of state_n — exactly facts.Compute's digest, so an optimistic result
// and a TEE result over the same data agree. The trace is h_i =
// state_i.Digest() for i = 0..n; its Merkle root is a keccak256 tree (see
// Trace) that the claim and each challenge commit to up front, so no side can
// answer two games differently.
//
// Duplicates: whether record i repeats an earlier record cannot be seen from
// one Merkle path. A step proof may carry a duplicate witness (an earlier leaf
// equal to record i's, proving to the same root); without one, "not a
// duplicate" is presumed, and the side whose hash is the duplicate outcome
// gets the turn to show a witness before the outcome stands (Game.Step). The
// honest side can always show a real duplicate, and no one can show a false
// one. This keeps the state (and so the facts digest) identical to the TEE's.
//
// # The game
//
//  1. Claim (NewClaim): executor posts submission, commitment, n, field names
//     and facts parameters (state_0), result h_n with its proof against the
//     trace root, and a bond ≥ Params.MinClaimBond. The window is
//     Params.Window long.
//  2. Challenge (Claim.Challenge): before the window ends, any account but the
//     executor posts a bond ≥ Params.MinChallengeBond, its trace root, its
//     final state (≠ the claim's result) and its hash at the midpoint n/2.
//     One game per challenger, played in parallel (see Game for why).
//  3. Moves (Game.Move): sides alternate. A move answers the pending midpoint
//     with the mover's hash (proof against its root) — equal hashes move the
//     agreed end Lo up, different ones move the disputed end Hi down — and
//     reveals the mover's hash at the new midpoint. The range halves on every
//     move, so a game needs at most ⌈log2 n⌉ moves (20 for 10^6 records).
//  4. Step (Game.Step, CheckStep): once Hi = Lo+1, either side posts the
//     single-step proof; the chain checks the agreed state's preimage, record
//     Hi's Merkle path to the submission's commitment, runs facts.Step and
//     decides.
//  5. Clocks: each side has Params.Clock in total over its turns; a side
//     that overruns loses (Game.Timeout, callable by anyone).
//  6. Resolution: the loser's bond is split — Params.WinnerShareBps to the
//     winner, the rest burned (Split). If the executor loses any game the claim
//     is overturned and the other games are cancelled with their bonds
//     returned; if neither side's hash is right at the step, the claim is
//     overturned and both bonds are burned. After the window, with no game
//     open, Claim.Finalize returns the executor's bond. Every bond is released
//     exactly once, in full (Settlement).
//
// Every refused call returns a sentinel error (ErrWindowClosed,
// ErrBondTooSmall, ErrNotYourTurn, ErrOutOfRange, ErrClockExpired, ...) and
// changes nothing. Apply runs any Action on copies, which is how a chain
// applies game txs. Computation.Next is the honest strategy the watcher and
// the CLI play.
//
// Equivocation (CheckEquivocation) is the quorum-side slashing rule: two
// approving votes by one member for different digests of one submission.
//
// Known limit: the commitment binds the records' values, n and the field
// count, not the field names, so the names in state_0 are the executor's
// word; a watcher that sees other names can flag but not win a game on them.
package optimistic
