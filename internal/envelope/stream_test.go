package envelope

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"testing"

	"github.com/ethereum/go-ethereum/crypto"
)

func chunked(t *testing.T, key, plain []byte, chunk int) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := NewWriter(&b, key, chunk)
	if err != nil {
		t.Fatal(err)
	}
	// odd write sizes: chunk boundaries fall inside writes
	for p := plain; len(p) > 0; {
		n := min(len(p), 7)
		if _, err := w.Write(p[:n]); err != nil {
			t.Fatal(err)
		}
		p = p[n:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func readAll(key, blob []byte) ([]byte, error) {
	r, err := NewReader(bytes.NewReader(blob), key)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

// chunkAt is the byte range of chunk i of a blob of full chunks of size chunk.
func chunkAt(i, chunk int) (int, int) {
	start := StreamHeaderSize + i*(chunk+ChunkOverhead)
	return start, start + chunk + ChunkOverhead
}

func TestStreamRoundTrip(t *testing.T) {
	t.Parallel()
	key := make([]byte, KeySize)
	rand.Read(key)
	for _, n := range []int{0, 1, 63, 64, 65, 1000} {
		plain := make([]byte, n)
		rand.Read(plain)
		blob := chunked(t, key, plain, 64)
		if int64(len(blob)) != int64(n)+StreamOverhead(int64(n), 64) {
			t.Fatalf("%d bytes: blob of %d, want %d", n, len(blob), int64(n)+StreamOverhead(int64(n), 64))
		}
		got, err := readAll(key, blob)
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("%d bytes: %v", n, err)
		}
		if got, err := Decrypt(key, blob); err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("%d bytes via Decrypt: %v", n, err)
		}
	}
}

// Each attack on a stream is refused with its own error, and no plaintext
// of a refused chunk is returned.
func TestStreamAttacks(t *testing.T) {
	t.Parallel()
	key, otherKey := make([]byte, KeySize), make([]byte, KeySize)
	rand.Read(key)
	rand.Read(otherKey)
	const chunk = 32
	plain := bytes.Repeat([]byte("0123456789abcdef"), 8) // 128 bytes: 4 full chunks, the last final
	blob := chunked(t, key, plain, chunk)
	other := chunked(t, key, bytes.Repeat([]byte("x"), len(plain)), chunk) // same key, another blob
	otherKeyBlob := chunked(t, otherKey, plain, chunk)
	all := []error{ErrTruncated, ErrMissingFinal, ErrChunkOrder, ErrSpliced, ErrBadChunk, ErrTrailing}
	edit := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(blob)) }
	for _, tc := range []struct {
		name string
		blob []byte
		want error
	}{
		{"cut short inside a chunk", blob[:len(blob)-5], ErrTruncated},
		{"cut short inside a chunk header", blob[:StreamHeaderSize+3], ErrTruncated},
		{"missing final chunk", func() []byte { s, _ := chunkAt(3, chunk); return blob[:s] }(), ErrMissingFinal},
		{"two chunks swapped", edit(func(b []byte) []byte {
			s1, e1 := chunkAt(1, chunk)
			s2, e2 := chunkAt(2, chunk)
			c1 := bytes.Clone(b[s1:e1])
			copy(b[s1:e1], b[s2:e2])
			copy(b[s2:e2], c1)
			return b
		}), ErrChunkOrder},
		{"a chunk of another blob", edit(func(b []byte) []byte {
			s, e := chunkAt(1, chunk)
			copy(b[s:e], other[s:e])
			return b
		}), ErrSpliced},
		{"a chunk under another key, relabelled with this blob's id", edit(func(b []byte) []byte {
			s, e := chunkAt(1, chunk)
			copy(b[s+blobIDLen:e], otherKeyBlob[s+blobIDLen:e])
			return b
		}), ErrBadChunk},
		{"a flipped ciphertext byte", edit(func(b []byte) []byte { b[StreamHeaderSize+chunkHeaderSize+3] ^= 1; return b }), ErrBadChunk},
		{"a chunk index edited", edit(func(b []byte) []byte {
			s, _ := chunkAt(1, chunk)
			b[s+blobIDLen+7] = 2
			return b
		}), ErrChunkOrder},
		{"an early chunk marked final", edit(func(b []byte) []byte {
			s, _ := chunkAt(0, chunk)
			b[s+blobIDLen+8] = flagLast
			return b
		}), ErrBadChunk},
		{"data after the final chunk", append(bytes.Clone(blob), 0), ErrTrailing},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readAll(key, tc.blob)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			for _, e := range all {
				if e != tc.want && errors.Is(err, e) {
					t.Fatalf("%v also matches %v", err, e)
				}
			}
			if !bytes.HasPrefix(plain, got) {
				t.Fatal("returned plaintext that is not the blob's")
			}
		})
	}
}

// OpenStream checks the data hash at the end: the plaintext of a blob
// that does not hash to the signed data hash never reaches io.EOF.
func TestOpenStreamChecksTheHash(t *testing.T) {
	t.Parallel()
	enc, _ := crypto.GenerateKey()
	plain := bytes.Repeat([]byte("a,b\n1,2\n"), 1000)
	var blob bytes.Buffer
	dh, wrapped, err := SealStream(&blob, bytes.NewReader(plain), &enc.PublicKey, 100)
	if err != nil {
		t.Fatal(err)
	}
	r, err := OpenStream(bytes.NewReader(blob.Bytes()), wrapped, dh, enc)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("round trip: %v", err)
	}
	padded := append(bytes.Clone(blob.Bytes()), 1)
	r, err = OpenStream(bytes.NewReader(padded), wrapped, dh, enc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(r); err == nil {
		t.Fatal("a blob with a trailing byte read to the end")
	}
	other := bytes.Clone(blob.Bytes())
	r, err = DecryptStream(make([]byte, KeySize), bytes.NewReader(other), crypto.Keccak256Hash([]byte("another blob")))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(r); err == nil {
		t.Fatal("another key read a blob")
	}
	key0 := make([]byte, KeySize)
	var same bytes.Buffer
	w, _ := NewWriter(&same, key0, 0)
	w.Write(plain)
	w.Close()
	r, _ = DecryptStream(key0, bytes.NewReader(same.Bytes()), crypto.Keccak256Hash([]byte("another blob")))
	if _, err := io.ReadAll(r); !errors.Is(err, ErrDataHash) {
		t.Fatalf("a blob opened for another data hash: %v", err)
	}
	// the single-shot format stays readable
	key := make([]byte, KeySize)
	rand.Read(key)
	old, err := Encrypt(key, plain)
	if err != nil {
		t.Fatal(err)
	}
	r, err = DecryptStream(key, bytes.NewReader(old), crypto.Keccak256Hash(old))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("single-shot blob: %v", err)
	}
}
