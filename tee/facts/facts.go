// Package facts defines the dataset facts a verifier attests to — record
// count, schema, per-field sum/min/max, duplicate and invalid records and a
// quality score — as ONE record-by-record function shared by the TEE worker
// and the optimistic game:
//
//	state_0 = New(fields, params)
//	state_i = Step(state_{i-1}, record_i, dup_i)
//	facts   = state_n.Facts(),  facts digest = state_n.Digest()
//
// Only integer arithmetic is used (sums are 128-bit), so every
// implementation computes the same bits.
//
// Duplicates. Record i is a duplicate when some record j < i has exactly the
// same values. Whether record i is one is the step's hint dup_i: Compute
// derives it exactly with a set of the records seen so far, and a referee
// judging one disputed step checks a "duplicate" hint by a Merkle proof of an
// earlier identical record j < i against the commitment (a "not a duplicate"
// hint stands unless the other side shows such a j). So the state stays small
// and its digest does not need to commit to the set of records seen.
//
// Invalid records. A record is invalid when any of its values lies outside
// [Params.Lo, Params.Hi]; DefaultParams is the JavaScript safe-integer range
// ±(2^53−1), the values every JSON consumer can hold exactly.
//
// Quality score. Quality = ⌊10000 × Clean / Records⌋ basis points, where
// Clean counts records that are neither invalid nor duplicates.
//
// Sums, minima and maxima are over all records, invalid and duplicate ones
// included, so they equal the aggregates the ZK circuit proves over the
// committed records.
package facts

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/bits"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/internal/records"
)

// QualityScale is the score of a dataset with no invalid or duplicate records.
const QualityScale = 10000

// Params are the rules the facts are computed under; they are part of the
// digest, so a verifier sees which rules were applied.
type Params struct {
	Lo int64 `json:"valid_min"` // smallest valid value
	Hi int64 `json:"valid_max"` // largest valid value
}

// DefaultParams accepts the JavaScript safe-integer range.
var DefaultParams = Params{Lo: -(1<<53 - 1), Hi: 1<<53 - 1}

// Errors.
var (
	ErrWidth   = errors.New("facts: record width differs from the schema")
	ErrInvalid = errors.New("facts: inconsistent facts")
)

// Int128 is a signed 128-bit integer (two's complement, Hi:Lo); per-field
// sums of up to 2^24 int64 values fit with room to spare. JSON: a decimal string.
type Int128 struct {
	Hi int64
	Lo uint64
}

// Add64 adds v.
func (x *Int128) Add64(v int64) {
	lo, carry := bits.Add64(x.Lo, uint64(v), 0)
	x.Lo = lo
	x.Hi += int64(carry)
	if v < 0 {
		x.Hi--
	}
}

// Big returns x as a big.Int.
func (x Int128) Big() *big.Int {
	b := new(big.Int).SetInt64(x.Hi)
	b.Lsh(b, 64)
	return b.Add(b, new(big.Int).SetUint64(x.Lo))
}

// String returns x in decimal.
func (x Int128) String() string { return x.Big().String() }

// MarshalJSON encodes x as a decimal string.
func (x Int128) MarshalJSON() ([]byte, error) { return json.Marshal(x.String()) }

var (
	min128 = new(big.Int).Neg(new(big.Int).Lsh(big.NewInt(1), 127))
	max128 = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 127), big.NewInt(1))
)

// UnmarshalJSON decodes a decimal string.
func (x *Int128) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("int128: want a decimal string: %w", err)
	}
	v, ok := new(big.Int).SetString(s, 10)
	if !ok || v.Cmp(min128) < 0 || v.Cmp(max128) > 0 {
		return fmt.Errorf("int128: %q is not a 128-bit decimal integer", s)
	}
	var buf [16]byte
	u := new(big.Int).Set(v)
	if u.Sign() < 0 {
		u.Add(u, new(big.Int).Lsh(big.NewInt(1), 128))
	}
	u.FillBytes(buf[:])
	x.Hi = int64(binary.BigEndian.Uint64(buf[:8]))
	x.Lo = binary.BigEndian.Uint64(buf[8:])
	return nil
}

// State is the running state after some prefix of the records.
type State struct {
	Params     Params
	Fields     []string
	Records    uint64
	Sum        []Int128
	Min, Max   []int64
	Invalid    uint64
	Duplicates uint64
	Clean      uint64
}

// New returns the state before the first record.
func New(fields []string, p Params) *State {
	f := len(fields)
	s := &State{
		Params: p,
		Fields: append([]string(nil), fields...),
		Sum:    make([]Int128, f),
		Min:    make([]int64, f),
		Max:    make([]int64, f),
	}
	for i := range f {
		s.Min[i] = math.MaxInt64
		s.Max[i] = math.MinInt64
	}
	return s
}

// Clone returns a deep copy of s.
func (s *State) Clone() *State {
	c := *s
	c.Fields = append([]string(nil), s.Fields...)
	c.Sum = append([]Int128(nil), s.Sum...)
	c.Min = append([]int64(nil), s.Min...)
	c.Max = append([]int64(nil), s.Max...)
	return &c
}

// Step returns the state after rec, leaving prev unchanged: the pure
// transition the optimistic referee re-executes for one disputed record.
func Step(prev *State, rec []int64, dup bool) (*State, error) {
	next := prev.Clone()
	if err := next.Apply(rec, dup); err != nil {
		return nil, err
	}
	return next, nil
}

// Apply advances s by one record in place (Step without the copy).
func (s *State) Apply(rec []int64, dup bool) error {
	if f := len(s.Fields); len(rec) != f || len(s.Sum) != f || len(s.Min) != f || len(s.Max) != f {
		return fmt.Errorf("%w: %d values, %d fields, state of widths %d/%d/%d", ErrWidth, len(rec), f, len(s.Sum), len(s.Min), len(s.Max))
	}
	bad := false
	for i, v := range rec {
		s.Sum[i].Add64(v)
		if v < s.Min[i] {
			s.Min[i] = v
		}
		if v > s.Max[i] {
			s.Max[i] = v
		}
		if v < s.Params.Lo || v > s.Params.Hi {
			bad = true
		}
	}
	s.Records++
	if bad {
		s.Invalid++
	}
	if dup {
		s.Duplicates++
	}
	if !bad && !dup {
		s.Clean++
	}
	return nil
}

// Quality is the documented score: ⌊10000 × Clean / Records⌋ (0 when empty).
func Quality(clean, records uint64) uint32 {
	if records == 0 {
		return 0
	}
	hi, lo := bits.Mul64(clean, QualityScale)
	q, _ := bits.Div64(hi, lo, records) // clean ≤ records, so no overflow
	return uint32(q)
}

var stateDomain = []byte("vsc-facts-state-v1")

// Encode is the canonical binary encoding of the state, what Digest hashes.
func (s *State) Encode() []byte {
	out := make([]byte, 0, 64+len(s.Fields)*48)
	out = append(out, stateDomain...)
	out = binary.BigEndian.AppendUint64(out, uint64(s.Params.Lo))
	out = binary.BigEndian.AppendUint64(out, uint64(s.Params.Hi))
	out = binary.BigEndian.AppendUint32(out, uint32(len(s.Fields)))
	for _, f := range s.Fields {
		out = binary.BigEndian.AppendUint32(out, uint32(len(f)))
		out = append(out, f...)
	}
	out = binary.BigEndian.AppendUint64(out, s.Records)
	// Each array carries its own length, so a malformed state (from outside
	// input) still encodes unambiguously instead of panicking.
	out = binary.BigEndian.AppendUint32(out, uint32(len(s.Sum)))
	for _, v := range s.Sum {
		out = binary.BigEndian.AppendUint64(out, uint64(v.Hi))
		out = binary.BigEndian.AppendUint64(out, v.Lo)
	}
	out = binary.BigEndian.AppendUint32(out, uint32(len(s.Min)))
	for _, v := range s.Min {
		out = binary.BigEndian.AppendUint64(out, uint64(v))
	}
	out = binary.BigEndian.AppendUint32(out, uint32(len(s.Max)))
	for _, v := range s.Max {
		out = binary.BigEndian.AppendUint64(out, uint64(v))
	}
	out = binary.BigEndian.AppendUint64(out, s.Invalid)
	out = binary.BigEndian.AppendUint64(out, s.Duplicates)
	out = binary.BigEndian.AppendUint64(out, s.Clean)
	return out
}

// Digest is keccak256 of the canonical encoding. The digest of the final
// state is the facts digest.
func (s *State) Digest() common.Hash { return crypto.Keccak256Hash(s.Encode()) }

// Facts are the published form of a final state.
type Facts struct {
	Records    uint64   `json:"records"`
	Fields     []string `json:"fields"`
	Sum        []Int128 `json:"sum"`
	Min        []int64  `json:"min"`
	Max        []int64  `json:"max"`
	Invalid    uint64   `json:"invalid"`
	Duplicates uint64   `json:"duplicates"`
	Clean      uint64   `json:"clean"`
	Quality    uint32   `json:"quality_bps"`
	Params     Params   `json:"params"`
}

// Facts returns the published facts of s.
func (s *State) Facts() Facts {
	c := s.Clone()
	return Facts{
		Records: c.Records, Fields: c.Fields, Sum: c.Sum, Min: c.Min, Max: c.Max,
		Invalid: c.Invalid, Duplicates: c.Duplicates, Clean: c.Clean,
		Quality: Quality(c.Clean, c.Records), Params: c.Params,
	}
}

// State returns the state the facts were published from.
func (f *Facts) State() *State {
	return (&State{
		Params: f.Params, Fields: f.Fields, Records: f.Records, Sum: f.Sum, Min: f.Min, Max: f.Max,
		Invalid: f.Invalid, Duplicates: f.Duplicates, Clean: f.Clean,
	}).Clone()
}

// Digest is the facts digest (the digest of the final state).
func (f *Facts) Digest() common.Hash { return f.State().Digest() }

// Validate checks that the facts could be the output of Compute: widths
// agree, counts are consistent, min ≤ max and the quality is the documented
// score. It does not (cannot) check them against the data.
func (f *Facts) Validate() error {
	n := len(f.Fields)
	if n == 0 || n > records.MaxFields {
		return fmt.Errorf("%w: %d fields", ErrInvalid, n)
	}
	if len(f.Sum) != n || len(f.Min) != n || len(f.Max) != n {
		return fmt.Errorf("%w: sum/min/max need one value per field", ErrInvalid)
	}
	if f.Records == 0 || f.Records > records.MaxRecords {
		return fmt.Errorf("%w: %d records", ErrInvalid, f.Records)
	}
	bad := f.Records - f.Clean // records that are invalid or duplicates (or both)
	if f.Clean > f.Records || f.Duplicates >= f.Records || bad < f.Invalid || bad < f.Duplicates ||
		bad > f.Invalid+f.Duplicates {
		return fmt.Errorf("%w: invalid %d, duplicates %d, clean %d of %d records", ErrInvalid, f.Invalid, f.Duplicates, f.Clean, f.Records)
	}
	for i := range n {
		if f.Min[i] > f.Max[i] {
			return fmt.Errorf("%w: field %d min > max", ErrInvalid, i)
		}
	}
	if f.Params.Lo > f.Params.Hi {
		return fmt.Errorf("%w: valid_min > valid_max", ErrInvalid)
	}
	if q := Quality(f.Clean, f.Records); f.Quality != q {
		return fmt.Errorf("%w: quality %d, the documented score is %d", ErrInvalid, f.Quality, q)
	}
	return nil
}

// Compute runs Step over every record of ds, deriving the duplicate hints
// exactly.
func Compute(ds *records.Dataset, p Params) (Facts, error) {
	s := New(ds.Fields, p)
	seen := newSeenSet(len(ds.Fields), len(ds.Records))
	for _, rec := range ds.Records {
		if err := s.Apply(rec, seen.add(rec)); err != nil {
			return Facts{}, err
		}
	}
	return s.Facts(), nil
}

// seenSet remembers records exactly; narrow records use fixed-size keys,
// which hash faster than strings and do not allocate.
type seenSet struct {
	narrow map[[4]int64]struct{}
	wide   map[string]struct{}
	buf    []byte
}

func newSeenSet(fields, n int) *seenSet {
	if fields <= 4 {
		return &seenSet{narrow: make(map[[4]int64]struct{}, n)}
	}
	return &seenSet{wide: make(map[string]struct{}, n)}
}

// add records rec and reports whether it was already there.
func (s *seenSet) add(rec []int64) bool {
	if s.narrow != nil {
		var k [4]int64
		copy(k[:], rec)
		if _, ok := s.narrow[k]; ok {
			return true
		}
		s.narrow[k] = struct{}{}
		return false
	}
	s.buf = s.buf[:0]
	for _, v := range rec {
		s.buf = binary.BigEndian.AppendUint64(s.buf, uint64(v))
	}
	if _, ok := s.wide[string(s.buf)]; ok {
		return true
	}
	s.wide[string(s.buf)] = struct{}{}
	return false
}

// Hints returns the duplicate hint of every record (dup_i of Step): true
// when an identical record appears earlier.
func Hints(ds *records.Dataset) []bool {
	seen := newSeenSet(len(ds.Fields), len(ds.Records))
	out := make([]bool, len(ds.Records))
	for i, rec := range ds.Records {
		out[i] = seen.add(rec)
	}
	return out
}

// Trace returns the digests of state_0 … state_n (n+1 hashes) and the final
// facts: the trace an optimistic executor commits to, whose last entry is
// the facts digest. Bisection over it narrows a dispute to one Step.
func Trace(ds *records.Dataset, p Params) ([]common.Hash, Facts, error) {
	s := New(ds.Fields, p)
	out := make([]common.Hash, 0, len(ds.Records)+1)
	out = append(out, s.Digest())
	for i, dup := range Hints(ds) {
		if err := s.Apply(ds.Records[i], dup); err != nil {
			return nil, Facts{}, err
		}
		out = append(out, s.Digest())
	}
	return out, s.Facts(), nil
}
