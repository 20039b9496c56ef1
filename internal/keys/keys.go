// Package keys loads and stores secp256k1 account keys: a 0600 file holding
// the hex private key, or a go-ethereum keystore JSON file (then the
// passphrase comes from VSC_KEY_PASSWORD). Private keys are never logged.
package keys

import (
	"bytes"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ethereum/go-ethereum/accounts/keystore"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

// Load reads a key file (hex or keystore JSON).
func Load(path string) (*ecdsa.PrivateKey, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read key %s: %w (make one with `vsc key new --out %s`)", path, err, path)
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '{' {
		k, err := keystore.DecryptKey(raw, os.Getenv("VSC_KEY_PASSWORD"))
		if err != nil {
			return nil, fmt.Errorf("key %s is a keystore file and VSC_KEY_PASSWORD does not open it: %w", path, err)
		}
		return k.PrivateKey, nil
	}
	k, err := crypto.HexToECDSA(string(bytes.TrimPrefix(raw, []byte("0x"))))
	if err != nil {
		return nil, fmt.Errorf("key %s is not a hex secp256k1 private key: %w", path, err)
	}
	return k, nil
}

// Save writes key as hex to path with mode 0600; it refuses to overwrite.
func Save(path string, key *ecdsa.PrivateKey) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%s already exists: refusing to overwrite a key", path)
		}
		return err
	}
	if _, err := fmt.Fprintf(f, "%x\n", crypto.FromECDSA(key)); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// LoadOrCreate loads the key at path, creating it first if missing.
func LoadOrCreate(path string) (*ecdsa.PrivateKey, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		k, err := crypto.GenerateKey()
		if err != nil {
			return nil, err
		}
		if err := Save(path, k); err != nil {
			return nil, err
		}
		return k, nil
	}
	return Load(path)
}

// Address returns the key's Ethereum address.
func Address(k *ecdsa.PrivateKey) common.Address { return crypto.PubkeyToAddress(k.PublicKey) }
