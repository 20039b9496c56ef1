package prover

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math/big"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/consensys/gnark/backend/groth16"
	groth16bn254 "github.com/consensys/gnark/backend/groth16/bn254"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/internal/records"
	"github.com/vsc-labs/vsc/internal/submission"
)

// Keys of test shapes are cached in testdata/keys (gitignored) across runs.
var (
	testKMOnce sync.Once
	testKM     *KeyManager
)

func testKeys(t testing.TB, s Shape) *Keys {
	t.Helper()
	testKMOnce.Do(func() {
		var err error
		if testKM, err = NewKeyManager(filepath.Join("testdata", "keys"), nil); err != nil {
			t.Fatal(err)
		}
	})
	k, err := testKM.Keys(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var (
	shapeSmall  = Shape{Chunk: 4, Ranges: []Range{UnsignedRange(16), SignedRange(32)}}
	shapeSecond = NewShape(8, 4, FullRange)
)

// proveAll proves every chunk of ds and assembles the evidence and the
// submission it is for.
func proveAll(t *testing.T, k *Keys, ds *records.Dataset) (*Evidence, *submission.Submission) {
	t.Helper()
	var proofs []ChunkProof
	for i := Chunks(ds.Len(), k.Shape.Chunk) - 1; i >= 0; i-- { // any order
		cp, err := ProveChunk(k, ds, i)
		if err != nil {
			t.Fatal(err)
		}
		proofs = append(proofs, *cp)
	}
	ev, err := Assemble(k.VK.Hash, k.Shape.Chunk, proofs)
	if err != nil {
		t.Fatal(err)
	}
	return ev, subFor(ds)
}

func subFor(ds *records.Dataset) *submission.Submission {
	return &submission.Submission{IDAO: "demo", Mode: "zk", Commitment: records.Commitment(ds), Records: uint64(ds.Len()), Fields: uint32(len(ds.Fields))}
}

func rangedDataset(rng *rand.Rand, n int, s Shape) *records.Dataset {
	ds := &records.Dataset{Fields: make([]string, s.Fields())}
	for f := range ds.Fields {
		ds.Fields[f] = string(rune('a' + f))
	}
	for i := 0; i < n; i++ {
		rec := make([]int64, s.Fields())
		for f, r := range s.Ranges {
			if r.Bits >= 63 {
				rec[f] = int64(rng.Uint64())
			} else {
				rec[f] = r.Min + rng.Int64N(1<<r.Bits)
			}
		}
		ds.Records = append(ds.Records, rec)
	}
	return ds
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	for _, tc := range []struct {
		shape Shape
		n     int
	}{
		{shapeSmall, 10}, // 3 chunks, the last one half padding
		{shapeSmall, 1},
		{shapeSecond, 8},
		{shapeSecond, 13},
	} {
		t.Run(tc.shape.String(), func(t *testing.T) {
			k := testKeys(t, tc.shape)
			ds := rangedDataset(rng, tc.n, tc.shape)
			ev, sub := proveAll(t, k, ds)
			facts, err := VerifyEvidence(k.VK, ev, sub)
			if err != nil {
				t.Fatal(err)
			}
			if facts.Count != uint64(tc.n) {
				t.Fatalf("count %d, want %d", facts.Count, tc.n)
			}
			for f := range facts.Sums {
				want := new(big.Int)
				for _, r := range ds.Records {
					want.Add(want, big.NewInt(r[f]))
				}
				if facts.Sums[f].Cmp(want) != 0 {
					t.Fatalf("field %d: sum %s, want %s", f, facts.Sums[f], want)
				}
			}
			if err := facts.Agree(uint64(tc.n), facts.Sums); err != nil {
				t.Fatal(err)
			}
			if err := facts.Agree(uint64(tc.n)+1, nil); !errors.Is(err, ErrCountMismatch) {
				t.Fatalf("count disagreement: %v", err)
			}
			other := append([]*big.Int{new(big.Int).Add(facts.Sums[0], big.NewInt(1))}, facts.Sums[1:]...)
			if err := facts.Agree(uint64(tc.n), other); !errors.Is(err, ErrSumsMismatch) {
				t.Fatalf("sum disagreement: %v", err)
			}
		})
	}
}

func TestProveRefusesOutOfRange(t *testing.T) {
	t.Parallel()
	k := testKeys(t, shapeSmall)
	for _, tc := range []struct {
		name string
		rec  []int64
	}{
		{"above", []int64{1 << 16, 0}},
		{"negative in unsigned", []int64{-1, 0}},
		{"below signed", []int64{0, -(1 << 31) - 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ds := &records.Dataset{Fields: []string{"u", "s"}, Records: [][]int64{{1, 1}, tc.rec}}
			cp, err := ProveChunk(k, ds, 0)
			if !errors.Is(err, ErrOutOfRange) || cp != nil {
				t.Fatalf("got %v, %v; want ErrOutOfRange and no proof", cp, err)
			}
			if !strings.Contains(err.Error(), "record 2") {
				t.Fatalf("error does not name the record: %v", err)
			}
		})
	}
	if _, err := ProveChunk(k, &records.Dataset{Fields: []string{"a"}, Records: [][]int64{{1}}}, 0); !errors.Is(err, ErrDatasetShape) {
		t.Fatalf("width mismatch: %v", err)
	}
}

var evidenceErrors = []error{ErrMalformedEvidence, ErrVKMismatch, ErrMissingChunk, ErrExtraChunk, ErrWrongChunk,
	ErrChunkOrder, ErrCommitmentMismatch, ErrBadProof, ErrCountMismatch, ErrSumsMismatch, ErrFieldsMismatch}

// Every rejection case has its own error.
func TestVerifyEvidenceRejects(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(5, 6))
	k := testKeys(t, shapeSmall)
	ds := rangedDataset(rng, 11, shapeSmall)
	good, sub := proveAll(t, k, ds)
	other := testKeys(t, shapeSecond)
	otherDS := rangedDataset(rng, 4, shapeSmall)
	otherEv, _ := proveAll(t, k, otherDS)

	clone := func() *Evidence {
		ev := *good
		ev.Chunks = append([]ChunkProof(nil), good.Chunks...)
		ev.Sums = append([]string(nil), good.Sums...)
		for i := range ev.Chunks {
			ev.Chunks[i].Proof = bytes.Clone(ev.Chunks[i].Proof)
			ev.Chunks[i].Sums = append([]string(nil), ev.Chunks[i].Sums...)
		}
		return &ev
	}
	for _, tc := range []struct {
		name string
		want error
		edit func(ev *Evidence, sub *submission.Submission, vk **VerifyingKey)
	}{
		{"flipped proof byte", ErrBadProof, func(ev *Evidence, _ *submission.Submission, _ **VerifyingKey) {
			ev.Chunks[1].Proof[40] ^= 1
		}},
		{"valid proof for another chunk", ErrWrongChunk, func(ev *Evidence, _ *submission.Submission, _ **VerifyingKey) {
			ev.Chunks[1] = ev.Chunks[2]
		}},
		{"proof of another dataset's chunk", ErrBadProof, func(ev *Evidence, _ *submission.Submission, _ **VerifyingKey) {
			p := otherEv.Chunks[0]
			p.Root = ev.Chunks[0].Root // claim this chunk's root with the other's proof
			ev.Chunks[0] = p
		}},
		{"chunks in the wrong order", ErrChunkOrder, func(ev *Evidence, _ *submission.Submission, _ **VerifyingKey) {
			ev.Chunks[0], ev.Chunks[2] = ev.Chunks[2], ev.Chunks[0]
		}},
		{"missing chunk", ErrMissingChunk, func(ev *Evidence, _ *submission.Submission, _ **VerifyingKey) {
			ev.Chunks = ev.Chunks[:2]
		}},
		{"extra chunk", ErrExtraChunk, func(ev *Evidence, _ *submission.Submission, _ **VerifyingKey) {
			ev.Chunks = append(ev.Chunks, ev.Chunks[0])
		}},
		{"claimed sums differ", ErrSumsMismatch, func(ev *Evidence, _ *submission.Submission, _ **VerifyingKey) {
			v, _ := new(big.Int).SetString(ev.Sums[1], 10)
			ev.Sums[1] = v.Add(v, big.NewInt(1)).String()
		}},
		{"chunk public sums edited", ErrBadProof, func(ev *Evidence, _ *submission.Submission, _ **VerifyingKey) {
			ev.Chunks[0].Sums[0] = "0"
		}},
		{"claimed count differs", ErrCountMismatch, func(ev *Evidence, _ *submission.Submission, _ **VerifyingKey) {
			ev.Count++
		}},
		{"vk other than the registered one", ErrVKMismatch, func(_ *Evidence, _ *submission.Submission, vk **VerifyingKey) {
			*vk = other.VK
		}},
		{"commitment the roots do not recombine to", ErrCommitmentMismatch, func(_ *Evidence, sub *submission.Submission, _ **VerifyingKey) {
			sub.Commitment[31] ^= 1
		}},
		{"field count other than the submission declares", ErrFieldsMismatch, func(_ *Evidence, sub *submission.Submission, _ **VerifyingKey) {
			sub.Fields++
		}},
		{"record count other than the submission's", ErrCommitmentMismatch, func(_ *Evidence, sub *submission.Submission, _ **VerifyingKey) {
			sub.Records = 12
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev, s, vk := clone(), *sub, k.VK
			tc.edit(ev, &s, &vk)
			_, err := VerifyEvidence(vk, ev, &s)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			for _, e := range evidenceErrors {
				if e != tc.want && errors.Is(err, e) {
					t.Fatalf("%v also matches %v", err, e)
				}
			}
		})
	}
	if _, err := VerifyEvidence(k.VK, clone(), sub); err != nil {
		t.Fatalf("the untouched evidence fails: %v", err)
	}
}

func TestKeyManagerCachesAndRefuses(t *testing.T) {
	t.Parallel()
	k := testKeys(t, shapeSmall)
	dir := t.TempDir()
	km, err := NewKeyManager(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	// install the cached keys into a fresh dir through the ceremony path
	pkFile, vkFile := filepath.Join(dir, "pk.bin"), filepath.Join(dir, "vk.bin")
	writeGnark(t, pkFile, k.pk)
	writeGnark(t, vkFile, k.VK.vk)
	imported, err := km.Import(context.Background(), shapeSmall, pkFile, vkFile)
	if err != nil {
		t.Fatal(err)
	}
	if imported.VK.Hash != k.VK.Hash || imported.Origin != OriginCeremony {
		t.Fatalf("imported vk %s (%s), want %s", imported.VK.Hash, imported.Origin, k.VK.Hash)
	}
	// a fresh manager loads them from disk, by shape and by vk hash
	km2, _ := NewKeyManager(dir, nil)
	loaded, err := km2.Keys(context.Background(), shapeSmall)
	if err != nil {
		t.Fatal(err)
	}
	if loaded.VK.Hash != k.VK.Hash || loaded.Origin != OriginCeremony {
		t.Fatalf("loaded vk %s (%s)", loaded.VK.Hash, loaded.Origin)
	}
	if vk, err := km2.VerifyingKey(k.VK.Hash); err != nil || vk.Hash != k.VK.Hash || vk.Shape.String() != shapeSmall.String() {
		t.Fatalf("vk by hash: %v", err)
	}
	if _, err := km2.VerifyingKey(common.Hash{1}); !errors.Is(err, ErrUnknownVK) {
		t.Fatalf("unknown vk: %v", err)
	}
	// a proving key of another pair is refused
	otherPK, otherVK, err := groth16.Setup(k.ccs)
	if err != nil {
		t.Fatal(err)
	}
	writeGnark(t, pkFile, otherPK.(*groth16bn254.ProvingKey))
	if _, err := km.Import(context.Background(), shapeSmall, pkFile, vkFile); !errors.Is(err, ErrKeyMismatch) {
		t.Fatalf("mismatched pk and vk imported: %v", err)
	}
	// keys of another circuit are refused
	writeGnark(t, vkFile, otherVK.(*groth16bn254.VerifyingKey))
	if _, err := km.Import(context.Background(), shapeSecond, pkFile, vkFile); !errors.Is(err, ErrKeyMismatch) {
		t.Fatalf("keys of another shape imported: %v", err)
	}
	// a key directory holding another circuit's files is refused
	second := testKeys(t, shapeSecond)
	circuitDir := filepath.Join(dir, k.Hash.Hex())
	secondDir := filepath.Join("testdata", "keys", second.Hash.Hex())
	for _, name := range []string{"proving.key", "verifying.key"} {
		b, err := os.ReadFile(filepath.Join(secondDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(circuitDir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	km3, _ := NewKeyManager(dir, nil)
	if _, err := km3.Keys(context.Background(), shapeSmall); !errors.Is(err, ErrKeyMismatch) {
		t.Fatalf("another circuit's keys loaded: %v", err)
	}
	// a vk file that does not hash to the registered hash is refused
	path := filepath.Join(dir, "vk", k.VK.Hash.Hex()+".vk")
	if err := os.WriteFile(path, second.VK.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := km3.VerifyingKey(k.VK.Hash); !errors.Is(err, ErrKeyMismatch) {
		t.Fatalf("vk with the wrong hash loaded: %v", err)
	}
}

func writeGnark(t *testing.T, path string, w interface {
	WriteTo(w io.Writer) (int64, error)
}) {
	t.Helper()
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestCircuitHashIsStable(t *testing.T) {
	t.Parallel()
	a, err := Compile(shapeSmall)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Compile(shapeSmall)
	c, _ := Compile(Shape{Chunk: 4, Ranges: []Range{UnsignedRange(15), SignedRange(32)}})
	if a.Hash != b.Hash || a.Hash == c.Hash {
		t.Fatalf("circuit hashes %s %s %s", a.Hash, b.Hash, c.Hash)
	}
}

func TestVerifyingKeyBundle(t *testing.T) {
	t.Parallel()
	k := testKeys(t, shapeSmall)
	b := k.VK.Bytes()
	if crypto.Keccak256Hash(b) != k.VK.Hash {
		t.Fatal("vk hash is not keccak256 of its bytes")
	}
	vk, err := ParseVerifyingKey(b)
	if err != nil || vk.Hash != k.VK.Hash {
		t.Fatalf("parse: %v", err)
	}
	for i := 0; i < len(b); i += 7 {
		bad := bytes.Clone(b)
		bad[i] ^= 0x20
		if vk, err := ParseVerifyingKey(bad); err == nil && vk.Hash == k.VK.Hash {
			t.Fatalf("corrupt byte %d gives the same key", i)
		}
	}
	if _, err := ParseVerifyingKey(b[:len(b)-1]); err == nil {
		t.Fatal("truncated vk parsed")
	}
}

// Every public input is bound by the proof: changing any one of them makes
// it fail (a public input no constraint uses would not be).
func TestPublicInputsAreBound(t *testing.T) {
	t.Parallel()
	k := testKeys(t, shapeSmall)
	ds := rangedDataset(rand.New(rand.NewPCG(13, 14)), 7, shapeSmall)
	good, err := ProveChunk(k, ds, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyChunk(k.VK, good); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		edit func(cp *ChunkProof)
	}{
		{"index", func(cp *ChunkProof) { cp.Index = 0 }},
		{"root", func(cp *ChunkProof) { cp.Root[31] ^= 1 }},
		{"count", func(cp *ChunkProof) { cp.Count = 4 }},
		{"sum 0", func(cp *ChunkProof) { cp.Sums[0] = "1" }},
		{"sum 1", func(cp *ChunkProof) { cp.Sums[1] = "-1" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cp := *good
			cp.Sums = append([]string(nil), good.Sums...)
			tc.edit(&cp)
			if err := VerifyChunk(k.VK, &cp); err == nil {
				t.Fatal("the proof verifies with an edited public input")
			}
		})
	}
}

// Length prefixes from outside never make the decoders allocate what the
// bytes cannot hold.
func TestForgedLengthPrefixes(t *testing.T) {
	t.Parallel()
	k := testKeys(t, shapeSmall)
	cp, err := ProveChunk(k, rangedDataset(rand.New(rand.NewPCG(15, 16)), 4, shapeSmall), 0)
	if err != nil {
		t.Fatal(err)
	}
	bad := *cp
	bad.Proof = bytes.Clone(cp.Proof)
	binary.BigEndian.PutUint32(bad.Proof[128:], 0xFFFFFFFF)
	if err := VerifyChunk(k.VK, &bad); err == nil {
		t.Fatal("forged commitment count accepted")
	}
	if _, err := Calldata(&bad); err == nil {
		t.Fatal("forged commitment count encoded")
	}
	vkb := k.VK.Bytes()
	kOff := len(vkMagic) + len(shapeSmall.encode()) + 32 + 3*32 + 3*64
	binary.BigEndian.PutUint32(vkb[kOff:], 0x7FFFFFFF)
	if _, err := ParseVerifyingKey(vkb); !errors.Is(err, ErrKeyMismatch) {
		t.Fatalf("forged K length: %v", err)
	}
}

// Installed loads the keys of a registered shape by its vk hash and never
// runs a setup: an unknown hash and a shape without its proving key are
// refused with their own errors.
func TestInstalledNeverSetsUp(t *testing.T) {
	t.Parallel()
	k := testKeys(t, shapeSmall)
	ctx := context.Background()
	km, err := NewKeyManager(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := km.Installed(ctx, k.VK.Hash); !errors.Is(err, ErrUnknownVK) {
		t.Fatalf("unknown vk: %v", err)
	}
	if _, err := km.AddVerifyingKey(k.VK.Bytes()); err != nil {
		t.Fatal(err)
	}
	if _, err := km.Installed(ctx, k.VK.Hash); !errors.Is(err, ErrNoKeys) {
		t.Fatalf("vk without its proving key: %v", err)
	}
	entries, _ := os.ReadDir(km.Dir())
	for _, e := range entries {
		if e.Name() != "vk" {
			t.Fatalf("Installed wrote %s: it ran a setup", e.Name())
		}
	}
	dir := filepath.Join("testdata", "keys")
	km2, err := NewKeyManager(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := km2.Installed(ctx, k.VK.Hash)
	if err != nil || got.VK.Hash != k.VK.Hash {
		t.Fatalf("installed keys: %v", err)
	}
	if z := got.Registered(); z.Fields != uint32(shapeSmall.Fields()) || z.Chunk != uint32(shapeSmall.Chunk) || z.VKHash != k.VK.Hash {
		t.Fatalf("registered entry %+v", z)
	}
	if back, err := ShapeOf(got.Registered()); err != nil || back.String() != shapeSmall.String() || back.RangesText() != shapeSmall.RangesText() {
		t.Fatalf("ShapeOf(Registered) = %v, %v; want %v", back, err, shapeSmall)
	}
}
