// Package store persists the chain in bbolt: blocks, receipts, each block's
// tx hashes and state changes (its diff), and a state snapshot. A block, its
// receipts and its diff are written in one bbolt transaction, so a crash
// leaves either the whole block or none of it, and a restart resumes at the
// last committed block.
//
// Why a diff log and snapshots rather than one put per changed key: state
// keys are uniformly random (account addresses, hashes), so a block's puts
// would dirty nearly every leaf page of a large bucket and the commit would
// rewrite the database each block; it was the largest serial cost of a
// block. A block now writes a few sequential values, and every
// SnapshotEvery blocks the accumulated diffs are merged into the snapshot
// bucket in one sorted pass. The state at the head is the snapshot plus the
// diffs after it. The tx index (tx hash → height and index) is a bucket of
// its own, written with each block, so memory does not grow with the chain;
// a database written before it had one is indexed once at open.
package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
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
	bTxs      = []byte("txhashes") // height → tx hashes (32 bytes each)
	bReceipts = []byte("receipts") // height → []Receipt
	bNotes    = []byte("notes")    // height → []note: the receipts' words, no consensus data
	bDiffs    = []byte("diffs")    // height → state writes of the block
	bState    = []byte("snapshot") // key → value at the snapshot height
	kSnap     = []byte("snapshot-height")
	bGenesis  = []byte("genesis") // genesis state key → value
	bTxIndex  = []byte("txindex") // tx hash → height (8 bytes) ‖ index (4 bytes)
	kHead     = []byte("head")
	kConfig   = []byte("genesis-config")
	kIndexed  = []byte("txindex-height") // the last height whose txs are in bTxIndex
	// bRedeems is the per-class index of successful dat_redeem txs: class
	// (32 bytes) ‖ height (8) ‖ tx index (4) → redeemEntry. Like the notes
	// it is no consensus data (not in any root): it is derived from the
	// blocks' receipts, written in the block's own transaction, and rebuilt
	// from the receipts at open for the blocks after kRedeems.
	bRedeems = []byte("redeems")
	kRedeems = []byte("redeems-height") // the last height whose redeems are in bRedeems
)

// SnapshotEvery is how many blocks of diffs accumulate before they are
// merged into the snapshot.
const SnapshotEvery = 64

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
			for _, b := range [][]byte{bMeta, bBlocks, bHashes, bTxs, bReceipts, bNotes, bDiffs, bState, bGenesis, bTxIndex, bRedeems} {
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
	st := &Store{db: db}
	if !o.ReadOnly {
		if err := st.catchUpTxIndex(); err != nil {
			db.Close()
			return nil, err
		}
		if err := st.catchUpRedeems(); err != nil {
			db.Close()
			return nil, err
		}
	}
	return st, nil
}

// catchUpTxIndex indexes the txs of the blocks after the index's height (a
// database from before the on-disk index), a batch of blocks per
// transaction.
func (s *Store) catchUpTxIndex() error {
	for {
		done := true
		err := s.db.Update(func(tx *bolt.Tx) error {
			head := tx.Bucket(bMeta).Get(kHead)
			if head == nil {
				return nil
			}
			top := binary.BigEndian.Uint64(head)
			from := uint64(0)
			if v := tx.Bucket(bMeta).Get(kIndexed); len(v) == 8 {
				from = binary.BigEndian.Uint64(v) + 1
			}
			if from > top {
				return nil
			}
			last := min(top, from+1023)
			c := tx.Bucket(bTxs).Cursor()
			for k, v := c.Seek(u64(from)); k != nil && binary.BigEndian.Uint64(k) <= last; k, v = c.Next() {
				if err := indexTxs(tx, binary.BigEndian.Uint64(k), common.CopyBytes(v)); err != nil {
					return err
				}
			}
			done = last == top
			return tx.Bucket(bMeta).Put(kIndexed, u64(last))
		})
		if err != nil {
			return fmt.Errorf("index the chain's txs: %w", err)
		}
		if done {
			return nil
		}
	}
}

// indexTxs writes the index entries of a block's tx hashes.
func indexTxs(tx *bolt.Tx, height uint64, hashes []byte) error {
	b := tx.Bucket(bTxIndex)
	n := len(hashes) / 32
	locs := make([]byte, 12*n) // bbolt keeps keys and values until the commit
	for i := range n {
		loc := locs[12*i : 12*i+12]
		binary.BigEndian.PutUint64(loc[:8], height)
		binary.BigEndian.PutUint32(loc[8:], uint32(i))
		if err := b.Put(hashes[32*i:32*i+32], loc); err != nil {
			return err
		}
	}
	return nil
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

// State returns the flat state at the head: the snapshot plus the diffs of
// the blocks after it.
func (s *Store) State() (map[string][]byte, error) {
	m := make(map[string][]byte)
	err := s.db.View(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bState).ForEach(func(k, v []byte) error {
			m[string(k)] = common.CopyBytes(v)
			return nil
		}); err != nil {
			return err
		}
		c := tx.Bucket(bDiffs).Cursor()
		for k, v := c.Seek(u64(firstDiff(tx))); k != nil; k, v = c.Next() {
			ws, err := decodeDiff(v)
			if err != nil {
				return fmt.Errorf("diff %d: %w", binary.BigEndian.Uint64(k), err)
			}
			for _, w := range ws {
				if w.Val == nil {
					delete(m, w.Key)
				} else {
					m[w.Key] = w.Val
				}
			}
		}
		return nil
	})
	return m, err
}

// firstDiff is the height of the first diff not yet in the snapshot.
func firstDiff(tx *bolt.Tx) uint64 {
	if v := tx.Bucket(bMeta).Get(kSnap); len(v) == 8 {
		return binary.BigEndian.Uint64(v) + 1
	}
	return 0
}

// diffEntry is one state write in a diff; Del marks a deletion.
type diffEntry struct {
	Key []byte
	Val []byte
	Del bool
}

func encodeDiff(writes []state.Write) ([]byte, error) {
	es := make([]diffEntry, len(writes))
	for i, w := range writes {
		es[i] = diffEntry{Key: []byte(w.Key), Val: w.Val, Del: w.Val == nil}
	}
	return rlp.EncodeToBytes(es)
}

func decodeDiff(b []byte) ([]state.Write, error) {
	var es []diffEntry
	if err := rlp.DecodeBytes(b, &es); err != nil {
		return nil, err
	}
	ws := make([]state.Write, len(es))
	for i, e := range es {
		ws[i] = state.Write{Key: string(e.Key)}
		if !e.Del {
			ws[i].Val = common.CopyBytes(e.Val)
			if ws[i].Val == nil {
				ws[i].Val = []byte{}
			}
		}
	}
	return ws, nil
}

// snapshot merges the diffs after the snapshot up to height into the
// snapshot bucket, in key order.
func snapshot(tx *bolt.Tx, height uint64) error {
	latest := map[string][]byte{}
	c := tx.Bucket(bDiffs).Cursor()
	for k, v := c.Seek(u64(firstDiff(tx))); k != nil && binary.BigEndian.Uint64(k) <= height; k, v = c.Next() {
		ws, err := decodeDiff(v)
		if err != nil {
			return err
		}
		for _, w := range ws {
			latest[w.Key] = w.Val
		}
	}
	keys := make([]string, 0, len(latest))
	for k := range latest {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	sb := tx.Bucket(bState)
	for _, k := range keys {
		if v := latest[k]; v == nil {
			if err := sb.Delete([]byte(k)); err != nil {
				return err
			}
		} else if err := sb.Put([]byte(k), v); err != nil {
			return err
		}
	}
	return tx.Bucket(bMeta).Put(kSnap, u64(height))
}

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
	err := s.db.Update(func(tx *bolt.Tx) error {
		if err := putBlock(tx, blk, receipts, writes); err != nil {
			return err
		}
		if h := blk.Header.Height; h+1-firstDiff(tx) >= SnapshotEvery {
			if err := snapshot(tx, h); err != nil {
				return fmt.Errorf("snapshot at %d: %w", h, err)
			}
		}
		if s.FailCommit != nil {
			return s.FailCommit(blk.Header.Height)
		}
		return nil
	})
	return err
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
	if nb := encodeNotes(receipts); nb != nil {
		if err := tx.Bucket(bNotes).Put(hk, nb); err != nil {
			return err
		}
	}
	hashes := make([]byte, 32*len(blk.Txs))
	for i, t := range blk.Txs {
		th := t.Hash()
		copy(hashes[32*i:], th[:])
	}
	if err := tx.Bucket(bTxs).Put(hk, hashes); err != nil {
		return err
	}
	if err := indexTxs(tx, h, hashes); err != nil {
		return err
	}
	if err := tx.Bucket(bMeta).Put(kIndexed, hk); err != nil {
		return err
	}
	if err := indexRedeems(tx, blk.Header.Height, blk.Header.Time, receipts); err != nil {
		return err
	}
	if err := tx.Bucket(bMeta).Put(kRedeems, hk); err != nil {
		return err
	}
	diff, err := encodeDiff(writes)
	if err != nil {
		return err
	}
	if err := tx.Bucket(bDiffs).Put(hk, diff); err != nil {
		return err
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
		b := tx.Bucket(bTxIndex)
		if b == nil {
			return nil
		}
		if v := b.Get(h[:]); len(v) == 12 {
			height, idx, found = binary.BigEndian.Uint64(v[:8]), binary.BigEndian.Uint32(v[8:]), true
		}
		return nil
	})
	if !found {
		return 0, 0, fmt.Errorf("tx %s: %w", h, ErrNotFound)
	}
	return height, idx, nil
}

// Receipts returns the receipts of the block at height, with their words
// (Detail) where the store has them.
func (s *Store) Receipts(height uint64) ([]*chain.Receipt, error) {
	var raw, notes []byte
	_ = s.db.View(func(tx *bolt.Tx) error {
		raw = common.CopyBytes(tx.Bucket(bReceipts).Get(u64(height)))
		if b := tx.Bucket(bNotes); b != nil { // absent in a read-only store made before notes
			notes = common.CopyBytes(b.Get(u64(height)))
		}
		return nil
	})
	if raw == nil {
		return nil, fmt.Errorf("receipts %d: %w", height, ErrNotFound)
	}
	var rs []*chain.Receipt
	if err := rlp.DecodeBytes(raw, &rs); err != nil {
		return nil, fmt.Errorf("decode receipts %d: %w", height, err)
	}
	addNotes(rs, notes)
	return rs, nil
}

// note is what a receipt says in words (its Detail and its events'), kept
// beside the receipts: not consensus data, so it is stored apart from what
// the receipt root covers.
type note struct {
	Detail string
	Events []string
}

// encodeNotes is the notes of receipts (nil if none says anything).
func encodeNotes(rs []*chain.Receipt) []byte {
	notes := make([]note, len(rs))
	some := false
	for i, r := range rs {
		notes[i].Detail = r.Detail
		some = some || r.Detail != ""
		for j, e := range r.Events {
			if e.Detail != "" {
				if notes[i].Events == nil {
					notes[i].Events = make([]string, len(r.Events))
				}
				notes[i].Events[j], some = e.Detail, true
			}
		}
	}
	if !some {
		return nil
	}
	b, _ := rlp.EncodeToBytes(notes) // strings always encode
	return b
}

// addNotes puts stored notes back on their receipts (notes that do not
// decode, or do not fit, are left out: they are words, never state).
func addNotes(rs []*chain.Receipt, raw []byte) {
	var notes []note
	if len(raw) == 0 || rlp.DecodeBytes(raw, &notes) != nil || len(notes) != len(rs) {
		return
	}
	for i, n := range notes {
		rs[i].Detail = n.Detail
		if len(n.Events) == len(rs[i].Events) {
			for j, d := range n.Events {
				rs[i].Events[j].Detail = d
			}
		}
	}
}
