package bus

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"regexp"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/nats-io/nats.go/jetstream"
)

// Ciphertext blobs up to SmallBlob bytes are one message each of the
// VSC_BLOBS stream (subject vsc.blob.<data hash>, one message per subject),
// read back with a single direct get; larger ones go to the "blobs" object
// store in chunks. Readers look in the stream first, then the object store.
//
// Chunk proofs are small, so they are messages too: one per name in the
// VSC_PROOFS stream (vsc.proof.<name>), written by provers, read by members
// with a direct get. Readers never create a bucket and read only the known
// ones; reads are capped.
const (
	BlobStream = "VSC_BLOBS"
	blobPrefix = "vsc.blob."
	SmallBlob  = 256 << 10
	// MaxBlobRead caps a blob read from the object store (intake admits
	// far less: the coordinator's --max-blob).
	MaxBlobRead = 1 << 30
	ProofStream = "VSC_PROOFS"
	proofPrefix = "vsc.proof."
)

// Errors of object reads.
var (
	// ErrNotFound is returned for a missing object.
	ErrNotFound = errors.New("object not found")
	// ErrTooLarge is returned for an object over the reader's cap.
	ErrTooLarge = errors.New("object larger than allowed")
	// ErrUnknownBucket is returned for a bucket other than BlobBucket and
	// ProofBucket (a name taken from a message, never a bucket to create).
	ErrUnknownBucket = errors.New("unknown bucket")
)

// objectStream and objectPrefix are an object store's stream and subjects.
func objectStream(bucket string) string { return "OBJ_" + bucket }
func objectPrefix(bucket string) string { return "$O." + bucket + "." }

// proofName is what a proof's name may hold: it becomes a subject token.
var proofName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,200}$`)

// objectStore returns the blobs object store, once the coordinator made it.
func (b *Bus) objectStore(ctx context.Context, bucket string) (jetstream.ObjectStore, error) {
	if bucket != BlobBucket {
		return nil, fmt.Errorf("%w %q", ErrUnknownBucket, bucket)
	}
	b.mu.Lock()
	os, ok := b.buckets[bucket]
	b.mu.Unlock()
	if ok {
		return os, nil
	}
	rctx, cancel := b.req(ctx)
	defer cancel()
	os, err := b.JS.ObjectStore(rctx, bucket)
	if err != nil {
		return nil, fmt.Errorf("object store %s: %w (the coordinator creates it: is it running?)", bucket, err)
	}
	b.mu.Lock()
	b.buckets[bucket] = os
	b.mu.Unlock()
	return os, nil
}

// PutObject stores data under name in bucket: a proof (ProofBucket) as one
// message, anything else in the blobs object store (chunked).
func (b *Bus) PutObject(ctx context.Context, bucket, name string, data []byte) error {
	if bucket == ProofBucket {
		if !proofName.MatchString(name) {
			return fmt.Errorf("proof name %q: want 1 to 200 letters, digits, '-' or '_'", name)
		}
		if _, err := b.publish(ctx, proofPrefix+name, data); err != nil {
			return fmt.Errorf("put %s/%s: %w", bucket, name, err)
		}
		return nil
	}
	os, err := b.objectStore(ctx, bucket)
	if err != nil {
		return err
	}
	if _, err := os.PutBytes(ctx, name, data); err != nil {
		return fmt.Errorf("put %s/%s: %w", bucket, name, err)
	}
	return nil
}

// GetObject reads an object of at most max bytes (ErrTooLarge beyond) from
// a known bucket (ErrUnknownBucket otherwise).
func (b *Bus) GetObject(ctx context.Context, bucket, name string, max int) ([]byte, error) {
	switch bucket {
	case ProofBucket:
		if !proofName.MatchString(name) {
			return nil, fmt.Errorf("%w: %s/%q is not a proof name", ErrNotFound, bucket, name)
		}
		data, err := b.lastMsg(ctx, ProofStream, proofPrefix+name)
		if err != nil {
			return nil, err
		}
		if data == nil {
			return nil, fmt.Errorf("%w: %s/%s", ErrNotFound, bucket, name)
		}
		if len(data) > max {
			return nil, fmt.Errorf("%w: %s/%s holds %d bytes, at most %d are read", ErrTooLarge, bucket, name, len(data), max)
		}
		return data, nil
	case BlobBucket:
		return b.readObject(ctx, bucket, name, max)
	}
	return nil, fmt.Errorf("%w %q", ErrUnknownBucket, bucket)
}

// lastMsg reads the message of a per-subject stream (nil, nil if there is none).
func (b *Bus) lastMsg(ctx context.Context, stream, subject string) ([]byte, error) {
	st, err := b.stream(ctx, stream)
	if err != nil {
		return nil, err
	}
	rctx, cancel := b.req(ctx)
	defer cancel()
	m, err := st.GetLastMsgForSubject(rctx, subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", subject, err)
	}
	if m.Data == nil {
		return []byte{}, nil
	}
	return m.Data, nil
}

// readObject reads an object store object chunk by chunk with direct gets
// (so readers need no consumer), refusing one over max bytes before reading
// it, and checks its SHA-256 digest.
func (b *Bus) readObject(ctx context.Context, bucket, name string, max int) ([]byte, error) {
	os, err := b.objectStore(ctx, bucket)
	if err != nil {
		return nil, err
	}
	info, err := b.objectInfo(ctx, os, name)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, fmt.Errorf("%w: %s/%s", ErrNotFound, bucket, name)
	}
	if err != nil {
		return nil, fmt.Errorf("get %s/%s: %w", bucket, name, err)
	}
	if info.Size > uint64(max) {
		return nil, fmt.Errorf("%w: %s/%s holds %d bytes, at most %d are read", ErrTooLarge, bucket, name, info.Size, max)
	}
	st, err := b.stream(ctx, objectStream(bucket))
	if err != nil {
		return nil, err
	}
	subject := objectPrefix(bucket) + "C." + info.NUID
	data := make([]byte, 0, info.Size)
	seq := uint64(1)
	for range info.Chunks {
		m, err := b.getMsg(ctx, st, seq, jetstream.WithGetMsgSubject(subject))
		if err != nil {
			return nil, fmt.Errorf("get %s/%s: chunk after sequence %d: %w", bucket, name, seq, err)
		}
		if len(data)+len(m.Data) > int(info.Size) {
			return nil, fmt.Errorf("get %s/%s: chunks exceed the object's %d bytes", bucket, name, info.Size)
		}
		data = append(data, m.Data...)
		seq = m.Sequence + 1
	}
	sum := sha256.Sum256(data)
	if uint64(len(data)) != info.Size || info.Digest != "SHA-256="+base64.URLEncoding.EncodeToString(sum[:]) {
		return nil, fmt.Errorf("get %s/%s: the chunks do not match the object's size and digest", bucket, name)
	}
	return data, nil
}

// objectInfo is ObjectStore.GetInfo bounded by req.
func (b *Bus) objectInfo(ctx context.Context, os jetstream.ObjectStore, name string) (*jetstream.ObjectInfo, error) {
	rctx, cancel := b.req(ctx)
	defer cancel()
	return os.GetInfo(rctx, name)
}

// hasObject reports whether an object exists.
func (b *Bus) hasObject(ctx context.Context, bucket, name string) (bool, error) {
	os, err := b.objectStore(ctx, bucket)
	if err != nil {
		return false, err
	}
	_, err = b.objectInfo(ctx, os, name)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return false, nil
	}
	return err == nil, err
}

// deleteObject removes an object (no error if absent).
func (b *Bus) deleteObject(ctx context.Context, bucket, name string) error {
	os, err := b.objectStore(ctx, bucket)
	if err != nil {
		return err
	}
	rctx, cancel := b.req(ctx)
	defer cancel()
	if err := os.Delete(rctx, name); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
		return err
	}
	return nil
}

// PutBlob stores a ciphertext blob under its data hash.
func (b *Bus) PutBlob(ctx context.Context, dataHash common.Hash, data []byte) error {
	if len(data) > SmallBlob {
		return b.PutObject(ctx, BlobBucket, dataHash.Hex(), data)
	}
	if _, err := b.publish(ctx, blobPrefix+dataHash.Hex(), data); err != nil {
		return fmt.Errorf("put blob %s: %w", dataHash.Hex(), err)
	}
	return nil
}

// GetBlob reads the ciphertext blob with that data hash.
func (b *Bus) GetBlob(ctx context.Context, dataHash common.Hash) ([]byte, error) {
	if data, err := b.lastMsg(ctx, BlobStream, blobPrefix+dataHash.Hex()); err != nil || data != nil {
		return data, err
	}
	return b.readObject(ctx, BlobBucket, dataHash.Hex(), MaxBlobRead)
}

// HasBlob reports whether a blob with that data hash is stored.
func (b *Bus) HasBlob(ctx context.Context, dataHash common.Hash) (bool, error) {
	if data, err := b.lastMsg(ctx, BlobStream, blobPrefix+dataHash.Hex()); err != nil || data != nil {
		return data != nil, err
	}
	return b.hasObject(ctx, BlobBucket, dataHash.Hex())
}

// DeleteBlob removes a blob (no error if absent).
func (b *Bus) DeleteBlob(ctx context.Context, dataHash common.Hash) error {
	st, err := b.stream(ctx, BlobStream)
	if err != nil {
		return err
	}
	rctx, cancel := b.req(ctx)
	defer cancel()
	if err := st.Purge(rctx, jetstream.WithPurgeSubject(blobPrefix+dataHash.Hex())); err != nil {
		return fmt.Errorf("delete blob %s: %w", dataHash.Hex(), err)
	}
	return b.deleteObject(ctx, BlobBucket, dataHash.Hex())
}

// BlobCount counts the stored blobs.
func (b *Bus) BlobCount(ctx context.Context) (int, error) {
	st, err := b.stream(ctx, BlobStream)
	if err != nil {
		return 0, err
	}
	info, err := st.Info(ctx)
	if err != nil {
		return 0, err
	}
	n := int(info.State.Msgs)
	os, err := b.objectStore(ctx, BlobBucket)
	if err != nil {
		return 0, err
	}
	list, err := os.List(ctx)
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		err = nil
	}
	return n + len(list), err
}

// OpenBlob opens the ciphertext blob with that data hash for reading in
// bounded memory: a small blob from its message, a large one chunk by chunk
// from the object store (direct gets, as readObject), its size and SHA-256
// digest checked at the end (the last Read fails if they do not match).
func (b *Bus) OpenBlob(ctx context.Context, dataHash common.Hash) (io.ReadCloser, int64, error) {
	if data, err := b.lastMsg(ctx, BlobStream, blobPrefix+dataHash.Hex()); err != nil || data != nil {
		if err != nil {
			return nil, 0, err
		}
		return io.NopCloser(bytes.NewReader(data)), int64(len(data)), nil
	}
	name := dataHash.Hex()
	os, err := b.objectStore(ctx, BlobBucket)
	if err != nil {
		return nil, 0, err
	}
	info, err := b.objectInfo(ctx, os, name)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, 0, fmt.Errorf("%w: %s/%s", ErrNotFound, BlobBucket, name)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("get %s/%s: %w", BlobBucket, name, err)
	}
	if info.Size > MaxBlobRead {
		return nil, 0, fmt.Errorf("%w: %s/%s holds %d bytes, at most %d are read", ErrTooLarge, BlobBucket, name, info.Size, MaxBlobRead)
	}
	st, err := b.stream(ctx, objectStream(BlobBucket))
	if err != nil {
		return nil, 0, err
	}
	return &objectReader{b: b, ctx: ctx, st: st, info: info, subject: objectPrefix(BlobBucket) + "C." + info.NUID, seq: 1, sum: sha256.New()},
		int64(info.Size), nil
}

// objectReader reads an object's chunks in order, one in memory.
type objectReader struct {
	b       *Bus
	ctx     context.Context
	st      jetstream.Stream
	info    *jetstream.ObjectInfo
	subject string
	seq     uint64
	read    uint32 // chunks read
	n       uint64 // bytes read
	buf     []byte
	sum     hash.Hash
}

func (o *objectReader) Read(p []byte) (int, error) {
	for len(o.buf) == 0 {
		if o.read == o.info.Chunks {
			want := "SHA-256=" + base64.URLEncoding.EncodeToString(o.sum.Sum(nil))
			if o.n != o.info.Size || o.info.Digest != want {
				return 0, fmt.Errorf("get %s/%s: the chunks do not match the object's size and digest", BlobBucket, o.info.Name)
			}
			return 0, io.EOF
		}
		m, err := o.b.getMsg(o.ctx, o.st, o.seq, jetstream.WithGetMsgSubject(o.subject))
		if err != nil {
			return 0, fmt.Errorf("get %s/%s: chunk after sequence %d: %w", BlobBucket, o.info.Name, o.seq, err)
		}
		if o.n += uint64(len(m.Data)); o.n > o.info.Size {
			return 0, fmt.Errorf("get %s/%s: chunks exceed the object's %d bytes", BlobBucket, o.info.Name, o.info.Size)
		}
		o.sum.Write(m.Data)
		o.buf, o.seq, o.read = m.Data, m.Sequence+1, o.read+1
	}
	n := copy(p, o.buf)
	o.buf = o.buf[n:]
	return n, nil
}

func (o *objectReader) Close() error { return nil }

// PutBlobFrom stores the blob read from r (of any size up to MaxBlobRead)
// under its data hash, streaming it into the object store, and checks as
// it goes that it hashes to dataHash: a blob that does not is deleted and
// ErrBlobHash returned. It returns the blob's size.
func (b *Bus) PutBlobFrom(ctx context.Context, dataHash common.Hash, r io.Reader) (int64, error) {
	os, err := b.objectStore(ctx, BlobBucket)
	if err != nil {
		return 0, err
	}
	h := crypto.NewKeccakState()
	if ok, err := b.HasBlob(ctx, dataHash); err != nil {
		return 0, err
	} else if ok { // stored already: check what was sent, never replace it
		n, err := io.Copy(h, io.LimitReader(r, MaxBlobRead+1))
		var got common.Hash
		h.Read(got[:])
		if err == nil && got != dataHash {
			err = fmt.Errorf("%w: %d bytes hash to %s, not %s", ErrBlobHash, n, got.Hex(), dataHash.Hex())
		}
		return n, err
	}
	counted := &countingReader{r: io.LimitReader(io.TeeReader(r, h), MaxBlobRead+1)}
	if _, err := os.Put(ctx, jetstream.ObjectMeta{Name: dataHash.Hex()}, counted); err != nil {
		return counted.n, fmt.Errorf("put blob %s: %w", dataHash.Hex(), err)
	}
	var got common.Hash
	h.Read(got[:])
	if got != dataHash || counted.n > MaxBlobRead {
		if err := b.deleteObject(context.Background(), BlobBucket, dataHash.Hex()); err != nil {
			return counted.n, fmt.Errorf("%w, and deleting it failed: %v", ErrBlobHash, err)
		}
		return counted.n, fmt.Errorf("%w: %d bytes hash to %s, not %s", ErrBlobHash, counted.n, got.Hex(), dataHash.Hex())
	}
	return counted.n, nil
}

// ErrBlobHash: a streamed blob did not hash to the data hash it was stored
// under (it was deleted again).
var ErrBlobHash = errors.New("the blob does not hash to its data hash")

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
