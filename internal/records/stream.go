package records

import (
	"bufio"
	"bytes"
	"fmt"
	"io"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/ethereum/go-ethereum/common"
)

// Streaming limits.
const (
	// MaxLineBytes bounds one line of a streamed dataset.
	MaxLineBytes = 1 << 20
	// ScanBlockBytes is about how much plaintext Scan parses at once.
	ScanBlockBytes = 4 << 20
)

// Scan parses a dataset from r in bounded memory (about ScanBlockBytes of
// text and its records at a time), calling fn with each block's records in
// order; fields is the schema, the same for every call. The slices passed
// to fn are reused once it returns. The rules and errors are Parse's: a
// dataset Scan accepts, Parse accepts with the same records.
func Scan(r io.Reader, fn func(fields []string, recs [][]int64) error) (fields []string, n int, err error) {
	br := bufio.NewReaderSize(r, 64<<10)
	p := &scanner{}
	block := make([]byte, 0, scanBlock+MaxLineBytes)
	for {
		block, err = readLines(br, block[:0])
		if len(block) > 0 {
			if perr := p.feed(block); perr != nil {
				return nil, 0, perr
			}
			if len(p.ds.Records) > 0 {
				if ferr := fn(p.ds.Fields, p.ds.Records); ferr != nil {
					return nil, 0, ferr
				}
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, 0, err
		}
	}
	switch {
	case p.ds.Fields == nil:
		return nil, 0, invalid("the dataset is empty: give at least one record")
	case p.total == 0 && p.json:
		return nil, 0, invalid("the dataset is empty: give at least one record")
	case p.total == 0:
		return nil, 0, invalid("the dataset has a header but no records")
	}
	return p.ds.Fields, p.total, nil
}

// readLines appends whole lines from br to block until it holds about
// ScanBlockBytes; io.EOF once the input is done.
func readLines(br *bufio.Reader, block []byte) ([]byte, error) {
	for len(block) < scanBlock {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			// a long line: gather it whole, up to MaxLineBytes
			start := len(block)
			block = append(block, line...)
			for err == bufio.ErrBufferFull {
				line, err = br.ReadSlice('\n')
				block = append(block, line...)
				if len(block)-start > MaxLineBytes {
					return nil, invalid("a line is over %d bytes", MaxLineBytes)
				}
			}
		} else {
			block = append(block, line...)
		}
		if err != nil {
			return block, err
		}
	}
	return block, nil
}

// scanner is Parse's state carried across blocks of whole lines.
type scanner struct {
	ds      Dataset // Records: the current block's
	flat    []int64
	no      int // lines read so far
	total   int // records so far
	json    bool
	started bool
}

func (p *scanner) feed(data []byte) error {
	p.ds.Records, p.flat = p.ds.Records[:0], p.flat[:0]
	if !p.started {
		trimmed := bytes.TrimLeft(data, " \t\r\n\ufeff")
		if len(trimmed) == 0 {
			p.no += bytes.Count(data, []byte{'\n'})
			return nil
		}
		p.started, p.json = true, trimmed[0] == '{' || trimmed[0] == '['
	}
	if p.json {
		return p.feedJSON(data)
	}
	if p.ds.Fields == nil {
		ds, rest, no, err := parseCSVHeader(data)
		if err != nil {
			return err // the header is in the first block: its line numbers are right
		}
		p.ds.Fields, p.no, data = ds.Fields, p.no+no, rest
	}
	return p.feedCSV(data)
}

func (p *scanner) feedCSV(data []byte) error {
	F := len(p.ds.Fields)
	if need := (bytes.Count(data, []byte{'\n'}) + 1) * F; cap(p.flat) < need {
		p.flat = make([]int64, 0, need)
	}
	for pos := 0; pos < len(data); {
		p.no++
		start := len(p.flat)
		next, ok := fastCSVLine(data, pos, F, &p.flat)
		if !ok {
			p.flat = p.flat[:start]
			line, after := nextLine(data[pos:])
			next = len(data) - len(after)
			if len(bytes.TrimSpace(line)) == 0 {
				pos = next
				continue
			}
			if err := slowCSVLine(line, p.no, F, &p.flat); err != nil {
				return err
			}
		}
		pos = next
		p.ds.Records = append(p.ds.Records, p.flat[start:len(p.flat):len(p.flat)])
		if p.total++; p.total > MaxRecords {
			return invalid("more than %d records", MaxRecords)
		}
	}
	return nil
}

func (p *scanner) feedJSON(data []byte) error {
	for len(data) > 0 {
		p.no++
		var line []byte
		line, data = nextLine(data)
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if p.total >= MaxRecords {
			return invalid("more than %d records", MaxRecords)
		}
		if err := jsonLine(&p.ds, p.no, line); err != nil {
			return err
		}
		p.total++
	}
	return nil
}

// Committer computes a dataset's commitment from its records in order, in
// memory proportional to one block of CommitBlock records (its leaves are
// hashed on every core) plus one root per block: the same function as
// Commitment, without holding the dataset.
type Committer struct {
	fields int
	n      int
	buf    [][]int64
	flat   []int64
	roots  []fr.Element                                    // one per full block
	block  func(recs [][]int64, leaves []fr.Element) error // sees every block (optional)
	err    error
}

// CommitBlock is the records a Committer hashes at once: an aligned
// power-of-two subtree.
const CommitBlock = 1 << 16

// NewCommitter starts the commitment of a dataset of fields fields.
func NewCommitter(fields int) *Committer { return &Committer{fields: fields} }

// OnBlock makes c call fn with each block of records and their leaves, in
// order, as it hashes them (the slices are reused once fn returns); an
// error of fn is returned by the next Add or by Err.
func (c *Committer) OnBlock(fn func(recs [][]int64, leaves []fr.Element) error) { c.block = fn }

// Err is the first error of the OnBlock function.
func (c *Committer) Err() error { return c.err }

// Add appends records (copied: the caller may reuse them).
func (c *Committer) Add(recs [][]int64) error {
	for _, r := range recs {
		if len(r) != c.fields {
			return fmt.Errorf("committer: a record of %d fields, the dataset has %d", len(r), c.fields)
		}
		if len(c.buf) == 1<<blockDepth {
			if c.flush(); c.err != nil {
				return c.err
			}
		}
		start := len(c.flat)
		c.flat = append(c.flat, r...)
		c.buf = append(c.buf, c.flat[start:len(c.flat):len(c.flat)])
		c.n++
	}
	return nil
}

// flush hashes the buffered block into its subtree root (level 16).
func (c *Committer) flush() {
	leaves := Leaves(c.buf)
	if c.block != nil && c.err == nil {
		c.err = c.block(c.buf, leaves)
	}
	t := NewTree(leaves)
	top := len(t.Levels) - 1
	r := t.Levels[top][0]
	for k := top; k < blockDepth; k++ {
		r = Compress(&r, &zeroRoot[k])
	}
	c.roots = append(c.roots, r)
	c.buf, c.flat = c.buf[:0], c.flat[:0]
}

// blockDepth is log2(CommitBlock); scanBlock is ScanBlockBytes. Tests
// shrink both to cross block boundaries with small datasets.
var (
	blockDepth = 16
	scanBlock  = ScanBlockBytes
)

// Len is the records added so far.
func (c *Committer) Len() int { return c.n }

// Commitment is the commitment of the records added (call it once, last,
// and check Err after it when OnBlock is set).
func (c *Committer) Commitment() common.Hash {
	if len(c.buf) > 0 || len(c.roots) == 0 {
		c.flush()
	}
	// the block roots are the tree's level blockDepth; missing blocks are
	// all-zero subtrees
	lvl, k := c.roots, blockDepth
	for len(lvl) > 1 {
		next := make([]fr.Element, (len(lvl)+1)/2)
		for i := range next {
			r := zeroRoot[k]
			if 2*i+1 < len(lvl) {
				r = lvl[2*i+1]
			}
			next[i] = Compress(&lvl[2*i], &r)
		}
		lvl, k = next, k+1
	}
	r := lvl[0]
	for ; k < Depth; k++ {
		r = Compress(&r, &zeroRoot[k])
	}
	return ToHash(Seal(r, c.n, c.fields))
}
