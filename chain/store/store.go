// Package store persists the chain in bbolt: blocks, receipts, the tx
// index and the flat state. A block, its receipts and its state changes are
// written in one bbolt transaction, so a crash leaves either the whole block
// or none of it, and a restart resumes at the last committed block.
package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/rlp"
	bolt "go.etcd.io/bbolt"

	"github.com/vsc-labs/vsc/chain"
	"github.com/vsc-labs/vsc/chain/state"
)

// ErrNotFound is returned for a missing block, tx or receipt.
var ErrNotFound = errors.New("store: not found")

var (
	bMeta     = []byte("meta")
	bBlocks   = []byte("blocks")   // height → block
	bHashes   = []byte("hashes")   // block hash → height
	bTxs      = []byte("txs")      // tx hash → height ‖ index
	bReceipts = []byte("receipts") // height → []Receipt
	bState    = []byte("state")    // key → value
	bGenesis  = []byte("genesis")  // genesis state key → value
	kHead     = []byte("head")
	kConfig   = []byte("genesis-config")
)

// Store is the chain's database.
type Store struct {
	db *bolt.DB
	// FailCommit, when set, runs inside CommitBlock's transaction after every
	// write; an error aborts the transaction (a crash mid-block, for tests).
	FailCommit func(height uint64) error
}

// Options tune the store.
type Options struct {
	ReadOnly bool
	NoSync   bool // benchmarks only: skip fsync (not crash-safe)
}

// Open opens or creates the database at path.
func Open(path string, o Options) (*Store, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second, ReadOnly: o.ReadOnly, NoSync: o.NoSync,
		NoFreelistSync: true, FreelistType: bolt.FreelistMapType, InitialMmapSize: 1 << 30})
	if err != nil {
		return nil, fmt.Errorf("open chain db %s: %w", path, err)
	}
	if !o.ReadOnly {
		err = db.Update(func(tx *bolt.Tx) error {
			for _, b := range [][]byte{bMeta, bBlocks, bHashes, bTxs, bReceipts, bState, bGenesis} {
				if _, err := tx.CreateBucketIfNotExists(b); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("init chain db: %w", err)
		}
	}
	return &Store{db: db}, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

func u64(v uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return b[:]
}

// Head returns the height of the last committed block; ok is false for an
// empty store.
func (s *Store) Head() (height uint64, ok bool, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bMeta)
		if b == nil {
			return nil
		}
		if v := b.Get(kHead); v != nil {
			height, ok = binary.BigEndian.Uint64(v), true
		}
		return nil
	})
	return
}

// InitGenesis writes block 0, the genesis config and the genesis state.
func (s *Store) InitGenesis(genesisJSON []byte, blk *chain.Block, writes []state.Write) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bMeta).Get(kHead) != nil {
			return errors.New("store: genesis already written")
		}
		if err := tx.Bucket(bMeta).Put(kConfig, genesisJSON); err != nil {
			return err
		}
		g := tx.Bucket(bGenesis)
		for _, w := range writes {
			if err := g.Put([]byte(w.Key), w.Val); err != nil {
				return err
			}
		}
		return putBlock(tx, blk, nil, writes)
	})
}

// GenesisConfig returns the genesis JSON stored at init.
func (s *Store) GenesisConfig() ([]byte, error) {
	var out []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		out = common.CopyBytes(tx.Bucket(bMeta).Get(kConfig))
		return nil
	})
	if out == nil && err == nil {
		err = ErrNotFound
	}
	return out, err
}

// GenesisState returns the state of block 0.
func (s *Store) GenesisState() (map[string][]byte, error) {
	return s.bucketMap(bGenesis)
}

// State returns the flat state at the head.
func (s *Store) State() (map[string][]byte, error) { return s.bucketMap(bState) }

func (s *Store) bucketMap(name []byte) (map[string][]byte, error) {
	m := make(map[string][]byte)
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(name).ForEach(func(k, v []byte) error {
			m[string(k)] = common.CopyBytes(v)
			return nil
		})
	})
	return m, err
}

// CommitBlock writes a block, its receipts, its tx index entries and its
// state writes, and moves the head, in one transaction.
func (s *Store) CommitBlock(blk *chain.Block, receipts []*chain.Receipt, writes []state.Write) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		if err := putBlock(tx, blk, receipts, writes); err != nil {
			return err
		}
		if s.FailCommit != nil {
			return s.FailCommit(blk.Header.Height)
		}
		return nil
	})
}

func putBlock(tx *bolt.Tx, blk *chain.Block, receipts []*chain.Receipt, writes []state.Write) error {
	h := blk.Header.Height
	hk := u64(h)
	if err := tx.Bucket(bBlocks).Put(hk, blk.Encode()); err != nil {
		return err
	}
	hh := blk.Header.Hash()
	if err := tx.Bucket(bHashes).Put(hh[:], hk); err != nil {
		return err
	}
	rb, err := rlp.EncodeToBytes(receipts)
	if err != nil {
		return err
	}
	if err := tx.Bucket(bReceipts).Put(hk, rb); err != nil {
		return err
	}
	// Puts in key order touch each B+tree page once: several times faster
	// than random order for a block's worth of keys.
	txb := tx.Bucket(bTxs)
	order := make([]int, len(blk.Txs))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		ha, hb := blk.Txs[a].Hash(), blk.Txs[b].Hash()
		return bytes.Compare(ha[:], hb[:])
	})
	loc := make([]byte, 12*len(order))
	for j, i := range order {
		th := blk.Txs[i].Hash()
		l := loc[12*j : 12*j+12]
		binary.BigEndian.PutUint64(l, h)
		binary.BigEndian.PutUint32(l[8:], uint32(i))
		if err := txb.Put(th[:], l); err != nil {
			return err
		}
	}
	sb := tx.Bucket(bState)
	sorted := make([]*state.Write, len(writes))
	for i := range writes {
		sorted[i] = &writes[i]
	}
	slices.SortFunc(sorted, func(a, b *state.Write) int { return strings.Compare(a.Key, b.Key) })
	for _, w := range sorted {
		if w.Val == nil {
			if err := sb.Delete([]byte(w.Key)); err != nil {
				return err
			}
		} else if err := sb.Put([]byte(w.Key), w.Val); err != nil {
			return err
		}
	}
	return tx.Bucket(bMeta).Put(kHead, hk)
}

// Block returns the block at height.
func (s *Store) Block(height uint64) (*chain.Block, error) {
	var raw []byte
	_ = s.db.View(func(tx *bolt.Tx) error {
		raw = common.CopyBytes(tx.Bucket(bBlocks).Get(u64(height)))
		return nil
	})
	if raw == nil {
		return nil, fmt.Errorf("block %d: %w", height, ErrNotFound)
	}
	return chain.DecodeBlock(raw)
}

// HeightOf returns the height of the block with hash h.
func (s *Store) HeightOf(h common.Hash) (uint64, error) {
	var out uint64
	found := false
	_ = s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bHashes).Get(h[:]); v != nil {
			out, found = binary.BigEndian.Uint64(v), true
		}
		return nil
	})
	if !found {
		return 0, fmt.Errorf("block %s: %w", h, ErrNotFound)
	}
	return out, nil
}

// TxLocation returns the height and index of a committed tx.
func (s *Store) TxLocation(h common.Hash) (uint64, uint32, error) {
	var height uint64
	var idx uint32
	found := false
	_ = s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bTxs).Get(h[:]); len(v) == 12 {
			height, idx, found = binary.BigEndian.Uint64(v), binary.BigEndian.Uint32(v[8:]), true
		}
		return nil
	})
	if !found {
		return 0, 0, fmt.Errorf("tx %s: %w", h, ErrNotFound)
	}
	return height, idx, nil
}

// Receipts returns the receipts of the block at height.
func (s *Store) Receipts(height uint64) ([]*chain.Receipt, error) {
	var raw []byte
	_ = s.db.View(func(tx *bolt.Tx) error {
		raw = common.CopyBytes(tx.Bucket(bReceipts).Get(u64(height)))
		return nil
	})
	if raw == nil {
		return nil, fmt.Errorf("receipts %d: %w", height, ErrNotFound)
	}
	var rs []*chain.Receipt
	if err := rlp.DecodeBytes(raw, &rs); err != nil {
		return nil, fmt.Errorf("decode receipts %d: %w", height, err)
	}
	return rs, nil
}
