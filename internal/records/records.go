// Package records defines what a vsc dataset is and how it is committed to.
// It is the one definition shared by the client (which commits before it
// encrypts), the TEE worker (which recomputes the commitment inside the
// enclave), the ZK circuit (whose chunk roots are subtrees of the same tree)
// and the optimistic referee (which checks one record's Merkle path).
//
// A dataset is a table of int64 values: CSV with a header row, or JSON Lines
// of objects or arrays. See commit.go for the record → field-element mapping
// and the tree.
package records

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// Limits of a dataset.
const (
	// MaxFields bounds the columns of a dataset (the circuits' widest shape).
	MaxFields = 16
	// MaxRecords bounds the records of a dataset, and so the records a
	// submission may declare.
	MaxRecords = 1 << 24
)

// ErrInvalid is wrapped by every parse error, so callers can map it to a 4xx.
// A parse error names the line and the column by number and never quotes
// the file, not even a header name (a file without a header makes its first
// record the header): the plaintext is private, and these errors end up in
// public reasons and in logs.
var ErrInvalid = errors.New("invalid dataset")

// MaxInPlaintext is the most records a plaintext of n bytes can hold. The
// smallest dataset of k records is a one-letter header and k one-digit
// values, "a\n0\n…\n0": 2k+1 bytes (JSON Lines take more). Intake bounds a
// submission's declared record count by it, so a claim cannot outgrow its
// ciphertext.
func MaxInPlaintext(n int64) uint64 {
	if n < 3 {
		return 0
	}
	return uint64((n - 1) / 2)
}

// Dataset is a parsed table of integer records, all of the same width.
type Dataset struct {
	Fields  []string
	Records [][]int64
}

// Len returns the number of records.
func (d *Dataset) Len() int { return len(d.Records) }

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// Parse reads CSV (first row: field names) or JSON Lines (each line an
// object with the same keys in the same order, or an array of numbers).
// Values must be base-10 integers that fit in int64; fixed-point values must
// be scaled by the caller (e.g. cents). An empty dataset is an error.
func Parse(data []byte) (*Dataset, error) {
	trimmed := bytes.TrimLeft(data, " \t\r\n\ufeff")
	if len(trimmed) == 0 {
		return nil, invalid("the dataset is empty: give at least one record")
	}
	if trimmed[0] == '{' || trimmed[0] == '[' {
		return parseJSONL(data)
	}
	return parseCSV(data)
}

// lines calls fn for each non-blank line (1-based line numbers), without the
// line terminator.
func lines(data []byte, fn func(no int, line []byte) error) error {
	no := 0
	for len(data) > 0 {
		no++
		var line []byte
		line, data = nextLine(data)
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if err := fn(no, line); err != nil {
			return err
		}
	}
	return nil
}

// nextLine splits off the first line (without "\n" or "\r\n").
func nextLine(data []byte) (line, rest []byte) {
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		line, rest = data[:i], data[i+1:]
	} else {
		line = data
	}
	return bytes.TrimRight(line, "\r"), rest
}

// parseCSV reads CSV with a header row. Records of the common shape
// ([-]digits separated by commas, LF or CRLF) are parsed in one pass into one
// flat backing array; any other line takes the general per-line path.
func parseCSV(data []byte) (*Dataset, error) {
	ds, data, no, err := parseCSVHeader(data)
	if err != nil {
		return nil, err
	}
	F := len(ds.Fields)
	est := bytes.Count(data, []byte{'\n'}) + 1
	flat := make([]int64, 0, est*F)
	ds.Records = make([][]int64, 0, est)
	for pos := 0; pos < len(data); {
		no++
		start := len(flat)
		next, ok := fastCSVLine(data, pos, F, &flat)
		if !ok { // the slow path for this line: blank, spaced, quoted, or wrong
			flat = flat[:start]
			line, after := nextLine(data[pos:])
			next = len(data) - len(after)
			if len(bytes.TrimSpace(line)) == 0 {
				pos = next
				continue
			}
			if err := slowCSVLine(line, no, F, &flat); err != nil {
				return nil, err
			}
		}
		pos = next
		ds.Records = append(ds.Records, flat[start:len(flat):len(flat)])
		if len(ds.Records) > MaxRecords {
			return nil, invalid("more than %d records", MaxRecords)
		}
	}
	if len(ds.Records) == 0 {
		return nil, invalid("the dataset has a header but no records")
	}
	return ds, nil
}

// parseCSVHeader reads the first non-blank line as the field names; it
// returns the rest of the data and the number of the header's line.
func parseCSVHeader(data []byte) (*Dataset, []byte, int, error) {
	ds := &Dataset{}
	no := 0
	for len(data) > 0 && ds.Fields == nil {
		no++
		var line []byte
		line, data = nextLine(data)
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		for _, name := range bytes.Split(line, []byte{','}) {
			name = bytes.Trim(bytes.TrimSpace(name), `"`)
			if len(name) == 0 {
				return nil, nil, 0, invalid("line %d: empty column name in the CSV header", no)
			}
			ds.Fields = append(ds.Fields, string(name))
		}
		if len(ds.Fields) > MaxFields {
			return nil, nil, 0, invalid("line %d: %d columns, at most %d allowed", no, len(ds.Fields), MaxFields)
		}
	}
	if ds.Fields == nil {
		return nil, nil, 0, invalid("the dataset is empty: give at least one record")
	}
	return ds, data, no, nil
}

// fastCSVLine parses the line at data[pos:] when it is exactly F plain
// integers, [-]digits (',' [-]digits)* '\n', appending them to flat; it
// returns where the next line starts. ok false: the caller takes the slow
// path (and drops what was appended).
func fastCSVLine(data []byte, pos, F int, flat *[]int64) (next int, ok bool) {
	start := len(*flat)
	for f := 0; ; f++ {
		neg := false
		if pos < len(data) && data[pos] == '-' {
			neg = true
			pos++
		}
		digStart := pos
		var u uint64
		for pos < len(data) {
			c := data[pos] - '0'
			if c > 9 {
				break
			}
			u = u*10 + uint64(c)
			pos++
		}
		nd := pos - digStart
		if nd == 0 || nd > 18 || f >= F { // ≤18 digits cannot overflow int64
			return 0, false
		}
		v := int64(u)
		if neg {
			v = -v
		}
		*flat = append(*flat, v)
		switch {
		case pos == len(data):
			return pos, len(*flat)-start == F
		case data[pos] == '\n':
			return pos + 1, len(*flat)-start == F
		case data[pos] == '\r' && pos+1 < len(data) && data[pos+1] == '\n':
			return pos + 2, len(*flat)-start == F
		case data[pos] != ',':
			return 0, false
		}
		pos++
	}
}

// slowCSVLine parses one non-blank line of cells (spaces around a value
// allowed), appending its F values to flat. Its errors name the line and
// the column, never the cell's value.
func slowCSVLine(line []byte, no, F int, flat *[]int64) error {
	start := len(*flat)
	rest := line
	for f := 0; ; f++ {
		var cell []byte
		j := bytes.IndexByte(rest, ',')
		if j >= 0 {
			cell, rest = rest[:j], rest[j+1:]
		} else {
			cell, rest = rest, nil
		}
		if f >= F {
			return invalid("line %d: more values than the %d columns of the header", no, F)
		}
		v, err := parseInt(bytes.TrimSpace(cell))
		if err != nil {
			return invalid("line %d, column %d: the value is not an integer (values must be base-10 int64; scale decimals yourself, e.g. cents)", no, f+1)
		}
		*flat = append(*flat, v)
		if j < 0 {
			break
		}
	}
	if n := len(*flat) - start; n != F {
		return invalid("line %d: %d values, the header has %d columns", no, n, F)
	}
	return nil
}

// parseInt is strconv.ParseInt without the string allocation.
func parseInt(b []byte) (int64, error) {
	if len(b) == 0 {
		return 0, strconv.ErrSyntax
	}
	neg := false
	i := 0
	switch b[0] {
	case '-':
		neg, i = true, 1
	case '+':
		i = 1
	}
	if i == len(b) {
		return 0, strconv.ErrSyntax
	}
	var u uint64
	for ; i < len(b); i++ {
		c := b[i] - '0'
		if c > 9 {
			return 0, strconv.ErrSyntax
		}
		if u > (1<<63)/10 {
			return 0, strconv.ErrRange
		}
		u = u*10 + uint64(c)
	}
	if neg {
		if u > 1<<63 {
			return 0, strconv.ErrRange
		}
		return -int64(u), nil
	}
	if u > 1<<63-1 {
		return 0, strconv.ErrRange
	}
	return int64(u), nil
}

func parseJSONL(data []byte) (*Dataset, error) {
	ds := &Dataset{}
	err := lines(data, func(no int, line []byte) error {
		if len(ds.Records) >= MaxRecords {
			return invalid("more than %d records", MaxRecords)
		}
		return jsonLine(ds, no, line)
	})
	if err != nil {
		return nil, err
	}
	if len(ds.Records) == 0 {
		return nil, invalid("the dataset is empty: give at least one record")
	}
	return ds, nil
}

// jsonLine parses line no of JSON Lines, appending its record to ds (the
// first record sets ds.Fields).
func jsonLine(ds *Dataset, no int, line []byte) error {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return invalid("line %d: %s", no, notJSON(err))
	}
	var names []string
	var rec []int64
	switch tok {
	case json.Delim('{'):
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return invalid("line %d: %s", no, notJSON(err))
			}
			name, _ := kt.(string)
			v, err := jsonInt(dec)
			if err != nil {
				return invalid("line %d, field %d: %v", no, len(rec)+1, err)
			}
			names = append(names, name)
			rec = append(rec, v)
		}
	case json.Delim('['):
		for dec.More() {
			v, err := jsonInt(dec)
			if err != nil {
				return invalid("line %d, value %d: %v", no, len(rec)+1, err)
			}
			rec = append(rec, v)
		}
	default:
		return invalid("line %d: each line must be a JSON object or array of integers", no)
	}
	if _, err := dec.Token(); err != nil {
		return invalid("line %d: %s", no, notJSON(err))
	}
	if dec.More() {
		return invalid("line %d: one JSON value per line", no)
	}
	if len(rec) == 0 {
		return invalid("line %d: a record needs at least one value", no)
	}
	if ds.Fields == nil {
		if len(rec) > MaxFields {
			return invalid("line %d: %d fields, at most %d allowed", no, len(rec), MaxFields)
		}
		if names == nil {
			for i := range rec {
				names = append(names, "f"+strconv.Itoa(i))
			}
		}
		ds.Fields = names
	} else {
		if len(rec) != len(ds.Fields) {
			return invalid("line %d: %d values, the first record has %d", no, len(rec), len(ds.Fields))
		}
		for i, n := range names {
			if n != ds.Fields[i] {
				return invalid("line %d: field %d has another name than in the first record", no, i+1)
			}
		}
	}
	ds.Records = append(ds.Records, rec)
	return nil
}

// jsonInt reads one integer value. Its errors say what is wrong, never
// what the value was.
func jsonInt(dec *json.Decoder) (int64, error) {
	t, err := dec.Token()
	if err != nil {
		return 0, errors.New(notJSON(err))
	}
	n, ok := t.(json.Number)
	if !ok {
		return 0, errors.New("the value is not a number")
	}
	v, err := strconv.ParseInt(string(n), 10, 64)
	if err != nil {
		return 0, errors.New("the value is not an int64 integer (scale decimals yourself, e.g. cents)")
	}
	return v, nil
}

// notJSON describes a JSON syntax error by where it is: the decoder's own
// message quotes the offending character, which is plaintext.
func notJSON(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("not valid JSON (at byte %d of the line)", se.Offset)
	}
	return "not valid JSON (it ends early)"
}
