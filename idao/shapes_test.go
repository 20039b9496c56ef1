package idao

import (
	"errors"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
)

func TestZKShapes(t *testing.T) {
	t.Parallel()
	vk := common.Hash{1}
	good := []ZKShape{{Fields: 1, Chunk: 256, VKHash: vk}, {Fields: 2, Chunk: 256, Ranges: "0:16,-128:8", VKHash: common.Hash{2}}}
	p := Policy{Modes: []Mode{ModeTEEZK}, ZKShapes: good, VKHash: common.Hash{9}}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	if z, ok := p.ZKShapeFor(2); !ok || z.VKHash != (common.Hash{2}) {
		t.Fatalf("shape for 2 fields: %+v %v", z, ok)
	}
	if _, ok := p.ZKShapeFor(3); ok {
		t.Fatal("a shape for 3 fields")
	}
	if got := p.ZKHashes(); len(got) != 3 || got[2] != (common.Hash{9}) {
		t.Fatalf("hashes %v", got)
	}
	if d := p.DescribeZKShapes(); d != "1 field (chunks of 256) or 2 fields (chunks of 256)" {
		t.Fatalf("describe: %q", d)
	}
	for _, tc := range []struct {
		name string
		z    ZKShape
		says string
	}{
		{"no fields", ZKShape{Chunk: 4, VKHash: vk}, "0 fields"},
		{"too many fields", ZKShape{Fields: MaxZKFields + 1, Chunk: 4, VKHash: vk}, "fields"},
		{"chunk not a power of two", ZKShape{Fields: 3, Chunk: 6, VKHash: vk}, "power of two"},
		{"chunk too large", ZKShape{Fields: 3, Chunk: MaxZKChunk * 2, VKHash: vk}, "power of two"},
		{"no key", ZKShape{Fields: 3, Chunk: 4}, "no verifying-key hash"},
		{"a second shape for 1 field", ZKShape{Fields: 1, Chunk: 4, VKHash: vk}, "two shapes"},
		{"ranges not MIN:BITS", ZKShape{Fields: 3, Chunk: 4, Ranges: "a:b", VKHash: vk}, "MIN:BITS"},
		{"ranges for other fields", ZKShape{Fields: 3, Chunk: 4, Ranges: "0:8", VKHash: vk}, "1 ranges"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := p
			q.ZKShapes = append(append([]ZKShape{}, good...), tc.z)
			err := q.Validate()
			if !errors.Is(err, ErrBadShape) || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("err = %v, want ErrBadShape saying %q", err, tc.says)
			}
		})
	}
	many := make([]ZKShape, MaxZKShapes+1)
	for i := range many {
		many[i] = ZKShape{Fields: uint32(i + 1), Chunk: 4, VKHash: vk}
	}
	if err := (&Policy{Modes: []Mode{ModeZK}, ZKShapes: many}).Validate(); !errors.Is(err, ErrBadShape) {
		t.Fatalf("%d shapes: %v", len(many), err)
	}
}
