package envelope

import (
	"bytes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// The chunked format (version 2) is specified in ENVELOPE.md beside this
// file: a header, then chunks, each sealed under its index, a last-chunk
// flag and the blob's id, so a reader refuses a stream cut short, chunks
// reordered, a chunk spliced from another blob and a missing final chunk,
// each with its own error, while holding one chunk in memory.
const (
	StreamVersion = 2
	// DefaultChunkSize is the plaintext bytes per chunk the client writes.
	DefaultChunkSize = 1 << 20
	// MaxChunkSize bounds a chunk a reader accepts (its buffer).
	MaxChunkSize = 16 << 20
	blobIDLen    = 16
	// StreamHeaderSize is version ‖ uint32 chunk size ‖ blob id.
	StreamHeaderSize = 1 + 4 + blobIDLen
	// ChunkOverhead is what each chunk adds to its plaintext: its header
	// (blob id ‖ uint64 index ‖ flags ‖ uint32 ciphertext length) and the tag.
	ChunkOverhead   = chunkHeaderSize + tagLen
	chunkHeaderSize = blobIDLen + 8 + 1 + 4
	flagLast        = 1
)

var streamAAD = []byte("vsc-blob-v2")

// Errors of the chunked format; each attack on a stream has its own.
var (
	ErrTruncated    = errors.New("chunked blob is cut short inside a chunk")
	ErrMissingFinal = errors.New("chunked blob ends without its final chunk")
	ErrChunkOrder   = errors.New("chunked blob holds a chunk out of its place")
	ErrSpliced      = errors.New("chunked blob holds a chunk of another blob")
	ErrBadChunk     = errors.New("chunked blob holds a chunk that does not authenticate")
	ErrTrailing     = errors.New("chunked blob has data after its final chunk")
)

// StreamOverhead is how many bytes a chunked blob of n plaintext bytes in
// chunks of chunk bytes adds to them.
func StreamOverhead(n int64, chunk int) int64 {
	chunks := n/int64(chunk) + 1 // the final chunk may be empty
	if n > 0 && n%int64(chunk) == 0 {
		chunks = n / int64(chunk)
	}
	return StreamHeaderSize + chunks*ChunkOverhead
}

// Writer encrypts a plaintext stream into a chunked blob. Close writes the
// final chunk; a blob without it is refused by every reader.
type Writer struct {
	w      io.Writer
	aead   cipher.AEAD
	header [StreamHeaderSize]byte
	buf    []byte
	out    []byte
	index  uint64
	err    error
}

// NewWriter starts a chunked blob on w under key (a fresh data key per
// blob) with chunk plaintext bytes per chunk (0: DefaultChunkSize).
func NewWriter(w io.Writer, key []byte, chunk int) (*Writer, error) {
	if chunk == 0 {
		chunk = DefaultChunkSize
	}
	if chunk < 1 || chunk > MaxChunkSize {
		return nil, fmt.Errorf("chunk size %d not in [1, %d]", chunk, MaxChunkSize)
	}
	aead, err := newAEAD(key)
	if err != nil {
		return nil, err
	}
	sw := &Writer{w: w, aead: aead, buf: make([]byte, 0, chunk)}
	sw.header[0] = StreamVersion
	binary.BigEndian.PutUint32(sw.header[1:5], uint32(chunk))
	if _, err := rand.Read(sw.header[5:]); err != nil {
		return nil, fmt.Errorf("blob id: %w", err)
	}
	if _, err := w.Write(sw.header[:]); err != nil {
		return nil, err
	}
	return sw, nil
}

// Write buffers p and writes every chunk it fills.
func (sw *Writer) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 && sw.err == nil {
		k := min(len(p), cap(sw.buf)-len(sw.buf))
		sw.buf = append(sw.buf, p[:k]...)
		p, n = p[k:], n+k
		if len(sw.buf) == cap(sw.buf) && len(p) > 0 {
			sw.err = sw.flush(false)
		}
	}
	return n, sw.err
}

// Close writes the final chunk (what is buffered, possibly nothing).
func (sw *Writer) Close() error {
	if sw.err != nil {
		return sw.err
	}
	sw.err = sw.flush(true)
	if sw.err == nil {
		sw.err = errors.New("envelope: write after Close")
		return nil
	}
	return sw.err
}

func (sw *Writer) flush(last bool) error {
	var flags byte
	if last {
		flags = flagLast
	}
	head := chunkHeader(sw.header[5:], sw.index, flags, len(sw.buf)+tagLen)
	sw.out = append(sw.out[:0], head...)
	sw.out = sw.aead.Seal(sw.out, chunkNonce(sw.index, flags), sw.buf, chunkAAD(sw.header[:], head))
	sw.buf, sw.index = sw.buf[:0], sw.index+1
	_, err := sw.w.Write(sw.out)
	return err
}

func chunkHeader(id []byte, index uint64, flags byte, ctLen int) []byte {
	h := make([]byte, 0, chunkHeaderSize)
	h = append(h, id...)
	h = binary.BigEndian.AppendUint64(h, index)
	h = append(h, flags)
	return binary.BigEndian.AppendUint32(h, uint32(ctLen))
}

// chunkNonce is unique per chunk of a blob (its index and flag); the data
// key is fresh per blob, so it is unique per key.
func chunkNonce(index uint64, flags byte) []byte {
	n := make([]byte, nonceLen)
	binary.BigEndian.PutUint64(n, index)
	n[8] = flags
	return n
}

func chunkAAD(header, chunkHead []byte) []byte {
	a := make([]byte, 0, len(streamAAD)+len(header)+len(chunkHead))
	return append(append(append(a, streamAAD...), header...), chunkHead...)
}

// Reader decrypts a chunked blob as a plaintext stream, one chunk in
// memory; every chunk is authenticated before a byte of it is returned.
type Reader struct {
	r      io.Reader
	aead   cipher.AEAD
	header [StreamHeaderSize]byte
	chunk  int
	index  uint64
	ct     []byte
	plain  []byte
	off    int
	done   bool
	err    error
}

// NewReader reads the header of a chunked blob from r, to decrypt it with key.
func NewReader(r io.Reader, key []byte) (*Reader, error) {
	aead, err := newAEAD(key)
	if err != nil {
		return nil, err
	}
	sr := &Reader{r: r, aead: aead}
	if _, err := io.ReadFull(r, sr.header[:]); err != nil {
		return nil, fmt.Errorf("%w: no complete header", ErrTruncated)
	}
	sr.chunk = int(binary.BigEndian.Uint32(sr.header[1:5]))
	if sr.header[0] != StreamVersion || sr.chunk < 1 || sr.chunk > MaxChunkSize {
		return nil, fmt.Errorf("%w: version %d, chunk size %d", ErrBadBlob, sr.header[0], sr.chunk)
	}
	return sr, nil
}

// Read returns authenticated plaintext.
func (sr *Reader) Read(p []byte) (int, error) {
	for sr.off == len(sr.plain) {
		if sr.err != nil {
			return 0, sr.err
		}
		if sr.done {
			sr.err = sr.checkEnd()
			continue
		}
		sr.err = sr.next()
	}
	n := copy(p, sr.plain[sr.off:])
	sr.off += n
	return n, nil
}

func (sr *Reader) checkEnd() error {
	var one [1]byte
	if n, _ := io.ReadFull(sr.r, one[:]); n > 0 {
		return ErrTrailing
	}
	return io.EOF
}

// next reads, checks and opens the next chunk.
func (sr *Reader) next() error {
	var head [chunkHeaderSize]byte
	n, err := io.ReadFull(sr.r, head[:])
	switch {
	case n == 0 && (err == io.EOF || err == io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: %d chunks read", ErrMissingFinal, sr.index)
	case err != nil:
		return fmt.Errorf("%w: chunk %d header: %v", ErrTruncated, sr.index, err)
	}
	id, index, flags := head[:blobIDLen], binary.BigEndian.Uint64(head[blobIDLen:]), head[blobIDLen+8]
	ctLen := int(binary.BigEndian.Uint32(head[blobIDLen+9:]))
	switch {
	case !bytes.Equal(id, sr.header[5:]):
		return fmt.Errorf("%w: chunk %d", ErrSpliced, sr.index)
	case index != sr.index:
		return fmt.Errorf("%w: chunk %d is at position %d", ErrChunkOrder, index, sr.index)
	case flags&^flagLast != 0 || ctLen < tagLen || ctLen > sr.chunk+tagLen || (flags&flagLast == 0 && ctLen != sr.chunk+tagLen):
		return fmt.Errorf("%w: chunk %d has flags %d and length %d", ErrBadChunk, index, flags, ctLen)
	}
	if cap(sr.ct) < ctLen {
		sr.ct = make([]byte, ctLen, sr.chunk+tagLen)
	}
	sr.ct = sr.ct[:ctLen]
	if _, err := io.ReadFull(sr.r, sr.ct); err != nil {
		return fmt.Errorf("%w: chunk %d: %v", ErrTruncated, index, err)
	}
	plain, err := sr.aead.Open(sr.plain[:0], chunkNonce(index, flags), sr.ct, chunkAAD(sr.header[:], head[:]))
	if err != nil {
		return fmt.Errorf("%w: chunk %d", ErrBadChunk, index)
	}
	sr.plain, sr.off, sr.index, sr.done = plain, 0, sr.index+1, flags&flagLast != 0
	return nil
}
