package state

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"slices"
	"sync"
)

// The state tree is a sparse binary Merkle tree over 256-bit paths
// (path = sha256(key)) in its compressed form: a subtree holding one key is
// that key's leaf, a subtree holding two or more is a branch, an empty one is
// absent. The shape depends only on the set of keys, so the root is
// canonical. Hashes (SHA-256, hardware-accelerated on amd64):
//
//	leaf   = sha256(0x00 ‖ path ‖ sha256(value))
//	branch = sha256(0x01 ‖ left ‖ right)      (an absent side is 32 zero bytes)
//	empty  = 32 zero bytes
//
// Nodes are immutable: an update builds new nodes along the changed paths
// and shares the rest, so the previous root stays valid for readers and
// proofs while the next block is staged. Batches update the two halves of a
// branch in parallel near the top of the tree, so hashing scales with cores.

type hash32 = [32]byte

type node struct {
	hash        hash32
	left, right *node
	leaf        bool
	path, vh    hash32
}

func hashOf(n *node) hash32 {
	if n == nil {
		return hash32{}
	}
	return n.hash
}

func newLeaf(path, vh hash32) *node {
	var buf [65]byte
	copy(buf[1:33], path[:])
	copy(buf[33:], vh[:])
	return &node{leaf: true, path: path, vh: vh, hash: sha256.Sum256(buf[:])}
}

func branchHash(l, r hash32) hash32 {
	var buf [65]byte
	buf[0] = 1
	copy(buf[1:33], l[:])
	copy(buf[33:], r[:])
	return sha256.Sum256(buf[:])
}

// join makes the canonical node over two children.
func join(l, r *node) *node {
	switch {
	case l == nil && r == nil:
		return nil
	case l == nil && r.leaf:
		return r
	case r == nil && l.leaf:
		return l
	}
	return &node{left: l, right: r, hash: branchHash(hashOf(l), hashOf(r))}
}

func bit(p *hash32, depth int) int { return int(p[depth>>3]>>(7-uint(depth&7))) & 1 }

// upd is one change to the tree: del removes the path.
type upd struct {
	path, vh hash32
	del      bool
}

// parDepth is how deep batches fork goroutines; 2^parDepth tasks at most.
const parDepth = 4

// update applies ws (sorted by path, unique paths, all sharing n's prefix up
// to depth) to n and returns the new node. workers > 1 forks near the top.
func update(n *node, depth int, ws []upd, workers int) *node {
	if len(ws) == 0 {
		return n
	}
	if n != nil && n.leaf {
		// Fold the existing leaf into the batch unless the batch rewrites it.
		i, found := slices.BinarySearchFunc(ws, n.path, func(u upd, p hash32) int { return bytes.Compare(u.path[:], p[:]) })
		if !found {
			merged := make([]upd, 0, len(ws)+1)
			merged = append(merged, ws[:i]...)
			merged = append(merged, upd{path: n.path, vh: n.vh})
			merged = append(merged, ws[i:]...)
			ws = merged
		}
		n = nil
	}
	if n == nil {
		// Build from scratch: drop deletes.
		live := 0
		for _, u := range ws {
			if !u.del {
				live++
			}
		}
		if live == 0 {
			return nil
		}
		if live != len(ws) {
			kept := make([]upd, 0, live)
			for _, u := range ws {
				if !u.del {
					kept = append(kept, u)
				}
			}
			ws = kept
		}
		if len(ws) == 1 {
			return newLeaf(ws[0].path, ws[0].vh)
		}
	}
	// Split by the bit at depth: ws is sorted, so zeros come first.
	k, _ := slices.BinarySearchFunc(ws, 1, func(u upd, _ int) int {
		if bit(&u.path, depth) == 0 {
			return -1
		}
		return 1
	})
	var l, r *node
	if n != nil {
		l, r = n.left, n.right
	}
	if workers > 1 && depth < parDepth && k > 0 && k < len(ws) && len(ws) >= 256 {
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			l = update(l, depth+1, ws[:k], workers/2+workers%2)
		}()
		r = update(r, depth+1, ws[k:], workers/2)
		wg.Wait()
	} else {
		l = update(l, depth+1, ws[:k], workers)
		r = update(r, depth+1, ws[k:], workers)
	}
	return join(l, r)
}

// smtProve walks to path and returns the siblings top-down and the node it
// ended on (nil or a leaf).
func smtProve(root *node, path hash32) (sibs []hash32, end *node) {
	n := root
	for depth := 0; n != nil && !n.leaf; depth++ {
		if bit(&path, depth) == 0 {
			sibs = append(sibs, hashOf(n.right))
			n = n.left
		} else {
			sibs = append(sibs, hashOf(n.left))
			n = n.right
		}
	}
	return sibs, n
}

// smtVerify recomputes the root from a proof. value nil means "absent";
// other, when non-nil, is the leaf found in the key's place.
func smtVerify(root hash32, path hash32, value []byte, sibs []hash32, other *upd) error {
	if len(sibs) > 256 {
		return fmt.Errorf("%w: path too long", ErrBadProof)
	}
	var cur hash32
	switch {
	case value != nil:
		if other != nil {
			return fmt.Errorf("%w: both a value and another leaf", ErrBadProof)
		}
		cur = newLeaf(path, sha256.Sum256(value)).hash
	case other != nil:
		if other.path == path {
			return fmt.Errorf("%w: the other leaf is the key itself", ErrBadProof)
		}
		for d := range sibs {
			if bit(&other.path, d) != bit(&path, d) {
				return fmt.Errorf("%w: the other leaf is off the key's path", ErrBadProof)
			}
		}
		cur = newLeaf(other.path, other.vh).hash
	}
	for d := len(sibs) - 1; d >= 0; d-- {
		if bit(&path, d) == 0 {
			cur = branchHash(cur, sibs[d])
		} else {
			cur = branchHash(sibs[d], cur)
		}
	}
	if cur != root {
		return fmt.Errorf("%w: root mismatch", ErrBadProof)
	}
	return nil
}
