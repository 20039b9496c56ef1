package envelope

import (
	"bytes"
	"errors"
	"testing"

	"github.com/ethereum/go-ethereum/crypto"
)

func TestSealOpen(t *testing.T) {
	t.Parallel()
	enc, _ := crypto.GenerateKey()
	other, _ := crypto.GenerateKey()
	pt := []byte("a,b\n1,2\n")
	s, err := Seal(pt, &enc.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Open(s.Blob, s.WrappedKey, s.DataHash, enc)
	if err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("open: %v %q", err, got)
	}
	if _, err := Open(s.Blob, s.WrappedKey, s.DataHash, other); !errors.Is(err, ErrUnwrap) {
		t.Fatalf("other key: err = %v, want ErrUnwrap", err)
	}
	flipped := append([]byte(nil), s.Blob...)
	flipped[len(flipped)-1] ^= 1
	if _, err := Open(flipped, s.WrappedKey, s.DataHash, enc); !errors.Is(err, ErrBadBlob) {
		t.Fatalf("flipped blob: err = %v", err)
	}
	if _, err := Open(flipped, s.WrappedKey, crypto.Keccak256Hash(flipped), enc); !errors.Is(err, ErrUnwrap) {
		t.Fatalf("wrap bound to another data hash: err = %v", err)
	}
}

// TestSizes pins the lengths the API accepts: Wrap always writes
// WrappedKeySize bytes; a chunked blob is its plaintext plus
// StreamOverhead, a single-shot blob its plaintext plus BlobOverhead, the
// least either format adds (so the API's bound on records holds for both).
func TestSizes(t *testing.T) {
	t.Parallel()
	enc, _ := crypto.GenerateKey()
	for _, n := range []int{0, 1, 100, 4096, DefaultChunkSize, 2*DefaultChunkSize + 3} {
		s, err := Seal(make([]byte, n), &enc.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		if len(s.WrappedKey) != WrappedKeySize {
			t.Fatalf("wrapped key of %d bytes, want WrappedKeySize = %d", len(s.WrappedKey), WrappedKeySize)
		}
		if want := n + int(StreamOverhead(int64(n), DefaultChunkSize)); len(s.Blob) != want || want < n+BlobOverhead {
			t.Fatalf("blob of %d bytes for %d of plaintext, want %d", len(s.Blob), n, want)
		}
		old, err := Encrypt(make([]byte, KeySize), make([]byte, n))
		if err != nil || len(old) != n+BlobOverhead {
			t.Fatalf("single-shot blob of %d bytes for %d of plaintext, want %d (%v)", len(old), n, n+BlobOverhead, err)
		}
	}
}
