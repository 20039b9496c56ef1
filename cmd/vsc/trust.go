package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/internal/cli"
)

// The trust anchor of `vsc submit`: the sequencer whose signed headers the
// chain's state proofs are checked against. It comes from --sequencer (or
// VSC_SEQUENCER), else from a pin made on first use: the first time the
// client meets a chain id it takes the sequencer the chain API names, says
// so, and keeps it in the pin file; after that a chain API that answers
// with state signed by anyone else is refused. The pin also keeps the
// highest block proven so far, so an API cannot replay older state.

// maxPinFile bounds the pin file read (a few hundred bytes a chain).
const maxPinFile = 1 << 20

// pin is what the client remembers of one chain.
type pin struct {
	Sequencer common.Address `json:"sequencer"`
	Height    uint64         `json:"height"`
	PinnedAt  time.Time      `json:"pinned_at"`
}

// pinFile is the client's pins, by chain id (decimal).
type pinFile struct {
	Chains map[string]*pin `json:"chains"`
}

// pinPath is the pin file: VSC_CONFIG_DIR/sequencers.json, default the
// user's config dir (~/.config/vsc on Linux).
func pinPath(env *cli.Env) (string, error) {
	dir := env.Var("VSC_CONFIG_DIR", "")
	if dir == "" {
		base, err := os.UserConfigDir()
		if err != nil {
			return "", fmt.Errorf("no config dir to keep the trusted sequencer in (%w): set VSC_CONFIG_DIR or pass --sequencer ADDR", err)
		}
		dir = filepath.Join(base, "vsc")
	}
	return filepath.Join(dir, "sequencers.json"), nil
}

func loadPins(path string) (*pinFile, error) {
	pf := &pinFile{Chains: map[string]*pin{}}
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return pf, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the trusted sequencers %s: %w", path, err)
	}
	if len(raw) > maxPinFile {
		return nil, fmt.Errorf("the trusted sequencers file %s is over %d bytes: it is not one vsc wrote; move it away", path, maxPinFile)
	}
	if err := json.Unmarshal(raw, pf); err != nil {
		return nil, fmt.Errorf("the trusted sequencers file %s is corrupt (%v): fix or remove it, then pass --sequencer ADDR", path, err)
	}
	if pf.Chains == nil {
		pf.Chains = map[string]*pin{}
	}
	return pf, nil
}

func (pf *pinFile) save(path string) error {
	raw, err := json.MarshalIndent(pf, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("keep the trusted sequencer: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(raw, '\n'), 0o600); err != nil {
		return fmt.Errorf("keep the trusted sequencer: %w", err)
	}
	return os.Rename(tmp, path)
}

func (pf *pinFile) get(chainID uint64) *pin { return pf.Chains[strconv.FormatUint(chainID, 10)] }

func (pf *pinFile) set(chainID uint64, p *pin) { pf.Chains[strconv.FormatUint(chainID, 10)] = p }
