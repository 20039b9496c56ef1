package prover

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"

	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/internal/records"
)

// Range declares the values a field may take: Min ≤ v < Min + 2^Bits.
// Range{Min: math.MinInt64, Bits: 64} admits every int64.
type Range struct {
	Min  int64 `json:"min"`
	Bits int   `json:"bits"`
}

// FullRange admits every int64 value.
var FullRange = Range{Min: math.MinInt64, Bits: 64}

// SignedRange admits -2^(bits-1) ≤ v < 2^(bits-1).
func SignedRange(bits int) Range {
	if bits >= 64 {
		return FullRange
	}
	return Range{Min: -(1 << (bits - 1)), Bits: bits}
}

// UnsignedRange admits 0 ≤ v < 2^bits (bits ≤ 63).
func UnsignedRange(bits int) Range { return Range{Min: 0, Bits: bits} }

// Contains reports whether v is in the range.
func (r Range) Contains(v int64) bool {
	if v < r.Min {
		return false
	}
	if r.Bits >= 64 {
		return true
	}
	return uint64(v-r.Min) < 1<<r.Bits
}

// offset is Min + 2^63: the field value of Min. A value v is in range iff
// FieldValue(v) - offset < 2^Bits.
func (r Range) offset() uint64 { return records.FieldValue(r.Min) }

func (r Range) validate() error {
	if r.Bits < 1 || r.Bits > 64 {
		return fmt.Errorf("range bits %d not in [1,64]", r.Bits)
	}
	// the top of the range must still be an int64: offset + 2^Bits - 1 < 2^64
	top := new(big.Int).Lsh(big.NewInt(1), uint(r.Bits))
	top.Add(top, new(big.Int).SetUint64(r.offset()))
	if top.Cmp(new(big.Int).Lsh(big.NewInt(1), 64)) > 0 {
		return fmt.Errorf("range [%d, %d+2^%d) goes past the largest int64", r.Min, r.Min, r.Bits)
	}
	return nil
}

// String formats the range as [min, max].
func (r Range) String() string {
	max := new(big.Int).Lsh(big.NewInt(1), uint(r.Bits))
	max.Add(max, big.NewInt(r.Min))
	max.Sub(max, big.NewInt(1))
	return fmt.Sprintf("[%d, %s]", r.Min, max)
}

// Shape fixes one dataset circuit: chunks of Chunk records (a power of two)
// of len(Ranges) fields, each field in its range. One shape, one circuit, one
// key pair.
type Shape struct {
	Chunk  int     `json:"chunk"`
	Ranges []Range `json:"ranges"`
}

// Limits and defaults of shapes.
const (
	MaxChunk = 1 << 16
	// DefaultChunk is the devnet's chunk size: its keys are set up in well
	// under 30 s on a 2-core machine for up to 6 fields (docs/BENCHMARKS.md).
	DefaultChunk = 64
)

// DefaultShape is the shape of chunk records of fields fields admitting any
// int64 value: what a prover worker uses when the policy declares no ranges.
func DefaultShape(chunk, fields int) Shape { return NewShape(chunk, fields, FullRange) }

// ErrShape is wrapped by every invalid-shape error.
var ErrShape = errors.New("invalid circuit shape")

// NewShape returns a shape of chunk records and fields fields, each in rng.
func NewShape(chunk, fields int, rng Range) Shape {
	s := Shape{Chunk: chunk, Ranges: make([]Range, fields)}
	for i := range s.Ranges {
		s.Ranges[i] = rng
	}
	return s
}

// Fields returns the number of fields.
func (s Shape) Fields() int { return len(s.Ranges) }

// Validate checks the shape.
func (s Shape) Validate() error {
	if s.Chunk < 1 || s.Chunk > MaxChunk || s.Chunk&(s.Chunk-1) != 0 {
		return fmt.Errorf("%w: chunk size %d must be a power of two in [1, %d]", ErrShape, s.Chunk, MaxChunk)
	}
	if len(s.Ranges) < 1 || len(s.Ranges) > records.MaxFields {
		return fmt.Errorf("%w: %d fields, want 1..%d", ErrShape, len(s.Ranges), records.MaxFields)
	}
	for i, r := range s.Ranges {
		if err := r.validate(); err != nil {
			return fmt.Errorf("%w: field %d: %v", ErrShape, i, err)
		}
	}
	return nil
}

// encode is the shape's canonical encoding, part of the verifying-key bundle:
// uint32 chunk ‖ uint32 fields ‖ per field (int64 min ‖ uint8 bits), big-endian.
func (s Shape) encode() []byte {
	b := make([]byte, 0, 8+9*len(s.Ranges))
	b = binary.BigEndian.AppendUint32(b, uint32(s.Chunk))
	b = binary.BigEndian.AppendUint32(b, uint32(len(s.Ranges)))
	for _, r := range s.Ranges {
		b = binary.BigEndian.AppendUint64(b, uint64(r.Min))
		b = append(b, byte(r.Bits))
	}
	return b
}

func decodeShape(b []byte) (Shape, []byte, error) {
	if len(b) < 8 {
		return Shape{}, nil, fmt.Errorf("%w: truncated", ErrShape)
	}
	s := Shape{Chunk: int(binary.BigEndian.Uint32(b))}
	f := int(binary.BigEndian.Uint32(b[4:]))
	b = b[8:]
	if f > records.MaxFields || len(b) < 9*f {
		return Shape{}, nil, fmt.Errorf("%w: truncated or too many fields", ErrShape)
	}
	s.Ranges = make([]Range, f)
	for i := range s.Ranges {
		s.Ranges[i] = Range{Min: int64(binary.BigEndian.Uint64(b)), Bits: int(b[8])}
		b = b[9:]
	}
	if err := s.Validate(); err != nil {
		return Shape{}, nil, err
	}
	return s, b, nil
}

// String is a short human name, e.g. "C256xF3".
func (s Shape) String() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "C%dxF%d", s.Chunk, len(s.Ranges))
	full := true
	for _, r := range s.Ranges {
		full = full && r == FullRange
	}
	if !full {
		sb.WriteString("-ranged")
	}
	return sb.String()
}

// ParseRanges reads "MIN:BITS,…" (one entry per field; "" is every int64
// for each of fields fields) into a shape of chunk records.
func ParseRanges(chunk, fields int, text string) (Shape, error) {
	s := DefaultShape(chunk, fields)
	if text != "" {
		parts := strings.Split(text, ",")
		if len(parts) != fields {
			return s, fmt.Errorf("%w: %d ranges for %d fields", ErrShape, len(parts), fields)
		}
		for i, p := range parts {
			lo, bits, ok := strings.Cut(strings.TrimSpace(p), ":")
			low, err1 := strconv.ParseInt(lo, 10, 64)
			b, err2 := strconv.Atoi(bits)
			if !ok || err1 != nil || err2 != nil {
				return s, fmt.Errorf("%w: range %q: want MIN:BITS, e.g. 0:16", ErrShape, p)
			}
			s.Ranges[i] = Range{Min: low, Bits: b}
		}
	}
	return s, s.Validate()
}

// RangesText is the shape's ranges as ParseRanges reads them ("" when every
// field admits every int64).
func (s Shape) RangesText() string {
	full := true
	parts := make([]string, len(s.Ranges))
	for i, r := range s.Ranges {
		full = full && r == FullRange
		parts[i] = fmt.Sprintf("%d:%d", r.Min, r.Bits)
	}
	if full {
		return ""
	}
	return strings.Join(parts, ",")
}

// ShapeOf is the circuit shape an iDAO registered.
func ShapeOf(z idao.ZKShape) (Shape, error) {
	return ParseRanges(int(z.Chunk), int(z.Fields), z.Ranges)
}

// Registered is the iDAO shape entry of keys: what a policy lists for them.
func (k *Keys) Registered() idao.ZKShape {
	s := k.VK.Shape
	return idao.ZKShape{Fields: uint32(s.Fields()), Chunk: uint32(s.Chunk), Ranges: s.RangesText(), VKHash: k.VK.Hash}
}
