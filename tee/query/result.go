package query

import (
	"encoding/binary"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

// Result is a query's answer: decimal strings, so JSON carries it exactly.
type Result struct {
	Columns          []string   `json:"columns"`
	Rows             [][]string `json:"rows"`
	SuppressedGroups int        `json:"suppressed_groups"`
	// BelowFloor is set when the WHERE clause left fewer records than the
	// privacy floor: the result then has no rows.
	BelowFloor bool `json:"below_floor,omitempty"`
}

// resultTag starts the canonical encoding; a new encoding takes a new tag.
const resultTag = "vsc-query-result-v1"

// Encode is the result's canonical encoding, the preimage of Hash:
//
//	"vsc-query-result-v1"
//	u32 #columns, then each column as u32 length ‖ bytes
//	u32 #rows, then each row as u32 #cells ‖ each cell as u32 length ‖ bytes
//	u64 suppressed_groups ‖ u8 below_floor (0 or 1)
//
// Integers are big-endian; strings are their UTF-8 bytes.
func (r *Result) Encode() []byte {
	b := []byte(resultTag)
	str := func(s string) {
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(r.Columns)))
	for _, c := range r.Columns {
		str(c)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(r.Rows)))
	for _, row := range r.Rows {
		b = binary.BigEndian.AppendUint32(b, uint32(len(row)))
		for _, c := range row {
			str(c)
		}
	}
	b = binary.BigEndian.AppendUint64(b, uint64(r.SuppressedGroups))
	if r.BelowFloor {
		return append(b, 1)
	}
	return append(b, 0)
}

// Hash is keccak256(Encode()): the result hash the enclave signs and the
// settlement carries.
func (r *Result) Hash() common.Hash { return crypto.Keccak256Hash(r.Encode()) }

// QueryHash is keccak256 of the query text's exact bytes: the queryHash an
// app signs in its JobRequest (the text as sent, not its canonical print).
func QueryHash(sql string) common.Hash { return crypto.Keccak256Hash([]byte(sql)) }
