package bus

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/ethereum/go-ethereum/common"
)

// A blob uploaded in parts (so that an upload cut short resumes where it
// stopped) keeps each part as an object of the blobs store until the parts
// are put together into the blob (AssembleBlob) or deleted.

// MaxPartSize bounds one part of a blob uploaded in parts.
const MaxPartSize = 8 << 20

func partName(h common.Hash, n int) string { return fmt.Sprintf("part-%s-%d", h.Hex(), n) }

// PutBlobPart stores part n of the blob with data hash h.
func (b *Bus) PutBlobPart(ctx context.Context, h common.Hash, n int, data []byte) error {
	if len(data) > MaxPartSize {
		return fmt.Errorf("%w: a part of %d bytes, at most %d", ErrTooLarge, len(data), MaxPartSize)
	}
	return b.PutObject(ctx, BlobBucket, partName(h, n), data)
}

// HasBlobPart reports whether part n of blob h is stored.
func (b *Bus) HasBlobPart(ctx context.Context, h common.Hash, n int) (bool, error) {
	return b.hasObject(ctx, BlobBucket, partName(h, n))
}

// AssembleBlob puts the parts 0..parts-1 of blob h together into the blob
// (streamed: one part in memory at a time), checked against h as it is
// stored (ErrBlobHash: nothing is kept), and deletes the parts.
func (b *Bus) AssembleBlob(ctx context.Context, h common.Hash, parts int) (int64, error) {
	r := &partsReader{ctx: ctx, b: b, h: h, parts: parts}
	n, err := b.PutBlobFrom(ctx, h, r)
	if r.err != nil {
		return n, r.err
	}
	if err != nil {
		return n, err
	}
	return n, b.DeleteBlobParts(ctx, h, parts)
}

// DeleteBlobParts deletes the parts 0..parts-1 of blob h (absent ones are
// fine).
func (b *Bus) DeleteBlobParts(ctx context.Context, h common.Hash, parts int) error {
	for n := range parts {
		if err := b.deleteObject(ctx, BlobBucket, partName(h, n)); err != nil {
			return fmt.Errorf("delete part %d of blob %s: %w", n, h.Hex(), err)
		}
	}
	return nil
}

// partsReader reads a blob's parts in order.
type partsReader struct {
	ctx   context.Context
	b     *Bus
	h     common.Hash
	parts int
	next  int
	cur   *bytes.Reader
	err   error // a part that could not be read (not the reader's EOF)
}

func (r *partsReader) Read(p []byte) (int, error) {
	for r.cur == nil || r.cur.Len() == 0 {
		if r.next == r.parts {
			return 0, io.EOF
		}
		data, err := r.b.readObject(r.ctx, BlobBucket, partName(r.h, r.next), MaxPartSize)
		if err != nil {
			r.err = fmt.Errorf("part %d of blob %s: %w", r.next, r.h.Hex(), err)
			return 0, r.err
		}
		r.cur, r.next = bytes.NewReader(data), r.next+1
	}
	return r.cur.Read(p)
}
