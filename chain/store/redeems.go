package store

import (
	"encoding/binary"
	"fmt"
	"strconv"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/rlp"
	bolt "go.etcd.io/bbolt"

	"github.com/vsc-labs/vsc/chain"
	"github.com/vsc-labs/vsc/chain/tx"
)

// Redeem is one successful dat_redeem, as the per-class index holds it.
type Redeem struct {
	Class    common.Hash
	Tx       common.Hash
	Token    common.Hash
	Units    uint64
	Redeemer common.Address
	Height   uint64
	Index    uint32
	Time     uint64 // the block's time, unix milliseconds
}

// RedeemKeySize is the size of a redeem's sort key within its class
// (height ‖ tx index), the cursor of Redeems.
const RedeemKeySize = 12

// Key is the redeem's sort key within its class: height ‖ tx index.
func (r *Redeem) Key() []byte {
	k := binary.BigEndian.AppendUint64(nil, r.Height)
	return binary.BigEndian.AppendUint32(k, r.Index)
}

type redeemEntry struct {
	Tx       common.Hash
	Token    common.Hash
	Units    uint64
	Redeemer common.Address
	Time     uint64
}

// redeemsOf is the redeems of a block's receipts: each successful
// dat_redeem's dat_redeemed event.
func redeemsOf(height, time uint64, receipts []*chain.Receipt) []Redeem {
	var out []Redeem
	for _, r := range receipts {
		if r.Kind != tx.KindDATRedeem || r.Status != chain.StatusSuccess {
			continue
		}
		for i := range r.Events {
			e := &r.Events[i]
			if e.Type != "dat_redeemed" {
				continue
			}
			units, err := strconv.ParseUint(e.Get("units"), 10, 64)
			if err != nil {
				continue
			}
			out = append(out, Redeem{Class: common.HexToHash(e.Get("class")), Tx: r.TxHash, Token: common.HexToHash(e.Get("token")),
				Units: units, Redeemer: r.Sender, Height: height, Index: r.Index, Time: time})
		}
	}
	return out
}

// indexRedeems writes the redeems of a block's receipts into bRedeems.
func indexRedeems(btx *bolt.Tx, height, time uint64, receipts []*chain.Receipt) error {
	b := btx.Bucket(bRedeems)
	for _, r := range redeemsOf(height, time, receipts) {
		v, err := rlp.EncodeToBytes(&redeemEntry{Tx: r.Tx, Token: r.Token, Units: r.Units, Redeemer: r.Redeemer, Time: r.Time})
		if err != nil {
			return err
		}
		if err := b.Put(append(r.Class.Bytes(), r.Key()...), v); err != nil {
			return err
		}
	}
	return nil
}

// catchUpRedeems indexes the redeems of the blocks after the index's
// height (a database from before the index), from their stored receipts,
// a batch of blocks per transaction.
func (s *Store) catchUpRedeems() error {
	for {
		done := true
		err := s.db.Update(func(btx *bolt.Tx) error {
			head := btx.Bucket(bMeta).Get(kHead)
			if head == nil {
				return nil
			}
			top := binary.BigEndian.Uint64(head)
			from := uint64(0)
			if v := btx.Bucket(bMeta).Get(kRedeems); len(v) == 8 {
				from = binary.BigEndian.Uint64(v) + 1
			}
			if from > top {
				return nil
			}
			last := min(top, from+1023)
			for h := from; h <= last; h++ {
				raw := btx.Bucket(bReceipts).Get(u64(h))
				if len(raw) == 0 {
					continue
				}
				var rs []*chain.Receipt
				if err := rlp.DecodeBytes(raw, &rs); err != nil {
					return fmt.Errorf("receipts %d: %w", h, err)
				}
				var time uint64
				if braw := btx.Bucket(bBlocks).Get(u64(h)); braw != nil {
					blk, err := chain.DecodeBlock(common.CopyBytes(braw))
					if err != nil {
						return fmt.Errorf("block %d: %w", h, err)
					}
					time = blk.Header.Time
				}
				if err := indexRedeems(btx, h, time, rs); err != nil {
					return err
				}
			}
			done = last == top
			return btx.Bucket(bMeta).Put(kRedeems, u64(last))
		})
		if err != nil {
			return fmt.Errorf("index the chain's redeems: %w", err)
		}
		if done {
			return nil
		}
	}
}

// Redeems returns up to limit redeems of class, newest first, from before
// the sort key before (nil: from the newest); more reports whether older
// ones remain.
func (s *Store) Redeems(class common.Hash, before []byte, limit int) (out []Redeem, more bool, err error) {
	if before != nil && len(before) != RedeemKeySize {
		return nil, false, fmt.Errorf("store: a redeem cursor is %d bytes, got %d", RedeemKeySize, len(before))
	}
	err = s.db.View(func(btx *bolt.Tx) error {
		b := btx.Bucket(bRedeems)
		if b == nil { // a read-only store made before the index
			return nil
		}
		prefix := class.Bytes()
		c := b.Cursor()
		var k, v []byte
		if before == nil {
			end := append(common.CopyBytes(prefix), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
			k, v = c.Seek(end)
		} else {
			k, v = c.Seek(append(common.CopyBytes(prefix), before...))
		}
		if k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev() // Seek lands on the first key ≥ the bound: step below it
		}
		for ; k != nil && len(k) == 32+RedeemKeySize && string(k[:32]) == string(prefix); k, v = c.Prev() {
			if len(out) == limit {
				more = true
				return nil
			}
			var e redeemEntry
			if err := rlp.DecodeBytes(v, &e); err != nil {
				return fmt.Errorf("redeem entry %x: %w", k, err)
			}
			out = append(out, Redeem{Class: class, Tx: e.Tx, Token: e.Token, Units: e.Units, Redeemer: e.Redeemer,
				Height: binary.BigEndian.Uint64(k[32:40]), Index: binary.BigEndian.Uint32(k[40:44]), Time: e.Time})
		}
		return nil
	})
	return out, more, err
}
