package idao

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/ethereum/go-ethereum/common"
)

// Limits of an iDAO's zk shapes.
const (
	// MaxZKShapes bounds the shapes one policy registers.
	MaxZKShapes = 16
	// MaxZKFields is the most fields a shape may have (records.MaxFields).
	MaxZKFields = 16
	// MaxZKChunk is the largest chunk a shape may have (prover.MaxChunk).
	MaxZKChunk = 1 << 16
	// maxRangesBytes bounds a shape's ranges text.
	maxRangesBytes = 16 * 48
)

// ErrBadShape is wrapped by every invalid zk shape of a policy.
var ErrBadShape = errors.New("idao: invalid zk shape")

// ZKShape is one zk circuit an iDAO accepts: datasets of Fields fields,
// proven in chunks of Chunk records, each value within Ranges, checked
// with the verifying key whose hash is VKHash. The key's bundle names the
// same shape (members check that), so the hash pins all of it.
type ZKShape struct {
	Fields uint32 `json:"fields"`
	Chunk  uint32 `json:"chunk"`
	// Ranges is "MIN:BITS,…", one per field (a value v is in range when
	// MIN ≤ v < MIN+2^BITS); empty admits every int64.
	Ranges string      `json:"ranges,omitempty"`
	VKHash common.Hash `json:"vk_hash"`
}

var rangesRE = regexp.MustCompile(`^-?[0-9]{1,19}:[0-9]{1,2}(,-?[0-9]{1,19}:[0-9]{1,2})*$`)

func validateShapes(shapes []ZKShape) error {
	if len(shapes) > MaxZKShapes {
		return fmt.Errorf("%w: %d shapes, at most %d", ErrBadShape, len(shapes), MaxZKShapes)
	}
	seen := map[uint32]bool{}
	for i, z := range shapes {
		switch {
		case z.Fields < 1 || z.Fields > MaxZKFields:
			return fmt.Errorf("%w: shape %d has %d fields, want 1..%d", ErrBadShape, i, z.Fields, MaxZKFields)
		case z.Chunk < 1 || z.Chunk > MaxZKChunk || z.Chunk&(z.Chunk-1) != 0:
			return fmt.Errorf("%w: shape %d has chunk %d, want a power of two up to %d", ErrBadShape, i, z.Chunk, MaxZKChunk)
		case z.VKHash == (common.Hash{}):
			return fmt.Errorf("%w: shape %d has no verifying-key hash", ErrBadShape, i)
		case seen[z.Fields]:
			return fmt.Errorf("%w: two shapes for %d fields (at most one per field count)", ErrBadShape, z.Fields)
		case len(z.Ranges) > maxRangesBytes || (z.Ranges != "" && !rangesRE.MatchString(z.Ranges)):
			return fmt.Errorf("%w: shape %d ranges must be MIN:BITS,… (at most %d bytes)", ErrBadShape, i, maxRangesBytes)
		case z.Ranges != "" && strings.Count(z.Ranges, ",")+1 != int(z.Fields):
			return fmt.Errorf("%w: shape %d has %d fields but %d ranges", ErrBadShape, i, z.Fields, strings.Count(z.Ranges, ",")+1)
		}
		seen[z.Fields] = true
	}
	return nil
}

// ZKShapeFor returns the registered shape for datasets of fields fields.
func (p *Policy) ZKShapeFor(fields uint32) (ZKShape, bool) {
	for _, z := range p.ZKShapes {
		if z.Fields == fields {
			return z, true
		}
	}
	return ZKShape{}, false
}

// ZKHashes are every verifying-key hash the policy registers: its shapes'
// and the single VKHash of a policy made before shapes.
func (p *Policy) ZKHashes() []common.Hash {
	var out []common.Hash
	for _, z := range p.ZKShapes {
		out = append(out, z.VKHash)
	}
	if p.VKHash != (common.Hash{}) {
		out = append(out, p.VKHash)
	}
	return out
}

// DescribeZKShapes is a sentence fragment naming the shapes the policy
// accepts, e.g. "1, 2 or 3 fields (chunks of 256 records)".
func (p *Policy) DescribeZKShapes() string {
	if len(p.ZKShapes) == 0 {
		return "no registered shape"
	}
	var parts []string
	for _, z := range p.ZKShapes {
		unit := "fields"
		if z.Fields == 1 {
			unit = "field"
		}
		parts = append(parts, fmt.Sprintf("%d %s (chunks of %d)", z.Fields, unit, z.Chunk))
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " or " + parts[len(parts)-1]
}
