package submission

import (
	"errors"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/internal/eip712"
)

func TestDigestMatchesWalletTypedData(t *testing.T) {
	t.Parallel()
	key, _ := crypto.GenerateKey()
	s := &Submission{IDAO: "demo", Mode: "tee+zk", Class: "dataset", Contributor: crypto.PubkeyToAddress(key.PublicKey),
		DataHash: common.HexToHash("0x01"), Commitment: common.HexToHash("0x02"), Records: 16,
		WrappedKeyHash: common.HexToHash("0x03"), Nonce: 7}
	want, err := eip712.HashTypedData(s.TypedData(1337))
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Digest(1337); got != want {
		t.Fatalf("fast digest %x, apitypes digest %x", got, want)
	}
	sig, err := s.Sign(1337, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Verify(1337, sig); err != nil {
		t.Fatal(err)
	}
	if err := s.Verify(1, sig); !errors.Is(err, ErrWrongSigner) {
		t.Fatalf("other chain id: err = %v", err)
	}
	s.Nonce++
	if err := s.Verify(1337, sig); !errors.Is(err, ErrWrongSigner) {
		t.Fatalf("changed nonce: err = %v", err)
	}
	if err := s.Verify(1337, sig[:10]); !errors.Is(err, eip712.ErrBadSignature) {
		t.Fatalf("short sig: err = %v", err)
	}
}
