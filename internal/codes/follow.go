package codes

import "net/http"

// A verifying follower's door (33xx): what a follower answers that a
// sequencer never does.
const (
	FollowerHalted Code = 3300 + iota
	SequencerUnreachable
)

var followerCodes = []entry{
	{FollowerHalted, "follower_halted", http.StatusServiceUnavailable,
		"this follower halted on a sequencer block that does not check (its log names the height and the roots); it serves only the blocks before it"},
	{SequencerUnreachable, "sequencer_unreachable", http.StatusBadGateway,
		"the follower could not forward the tx to its sequencer; try again, or send it to the sequencer"},
}
