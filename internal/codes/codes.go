// Package codes is vsc's one table of failure codes. Each code has a Go
// constant (a misspelt code does not compile), a stable number, a name that
// API clients branch on, an HTTP status and a sentence saying what went
// wrong in general (an Error adds the specifics and what to do).
//
// The coordinator's API, the chain's API and receipts, the bus's refusals,
// the SDK and the CLI all use this table; the OpenAPI documents derive their
// error schemas from it (see All).
//
// Numbers are data: a chain receipt carries a failure's number, so a number
// is never reused or renumbered (like tx kinds), and a sentence can be
// reworded without changing any root. Ranges: 1xxx the coordinator's API,
// 2xxx the client's own checks, 3xxx the chain's door (admission), 4xxx the
// chain's execution (receipts), 5xxx the bus.
package codes

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
)

// Code is a failure code.
type Code uint16

// OK is no failure (a successful receipt's code).
const OK Code = 0

// entry is one row of the table.
type entry struct {
	code     Code
	name     string
	http     int
	sentence string
}

// table is every code, built from the per-area lists (api.go, chain.go, …).
var table = func() map[Code]entry {
	m := map[Code]entry{}
	names := map[string]bool{}
	for _, list := range [][]entry{apiCodes, serviceAPICodes, clientCodes, serviceClientCodes, chainDoorCodes, followerCodes, chainExecCodes, serviceExecCodes, busCodes} {
		for _, e := range list {
			if _, dup := m[e.code]; dup || names[e.name] || e.code == OK {
				panic(fmt.Sprintf("codes: %d %q is listed twice (or is 0)", e.code, e.name))
			}
			m[e.code], names[e.name] = e, true
		}
	}
	return m
}()

var byName = func() map[string]Code {
	m := make(map[string]Code, len(table))
	for c, e := range table {
		m[e.name] = c
	}
	return m
}()

// Name is the code's stable name (what API clients branch on), "ok" for OK
// and "unknown_<n>" for a number not in the table.
func (c Code) Name() string {
	if c == OK {
		return "ok"
	}
	if e, ok := table[c]; ok {
		return e.name
	}
	return fmt.Sprintf("unknown_%d", uint16(c))
}

// HTTP is the status an API answers the code with (500 for an unknown code).
func (c Code) HTTP() int {
	if e, ok := table[c]; ok {
		return e.http
	}
	return 500
}

// Sentence says in general what the code means.
func (c Code) Sentence() string {
	if e, ok := table[c]; ok {
		return e.sentence
	}
	return "an unknown failure"
}

// Number is the code's stable number.
func (c Code) Number() uint16 { return uint16(c) }

// Known reports whether c is in the table.
func (c Code) Known() bool { _, ok := table[c]; return ok }

func (c Code) String() string { return c.Name() }

// ByName returns the code with that name.
func ByName(name string) (Code, bool) {
	c, ok := byName[name]
	return c, ok
}

// All returns every code in the table, by number.
func All() []Code {
	out := make([]Code, 0, len(table))
	for c := range table {
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}

// Error is a failure: its code and a message that makes the code's
// sentence specific (what was wrong, what to do).
type Error struct {
	Code    Code
	Message string
}

// New makes an Error of code c.
func New(c Code, format string, args ...any) *Error {
	return &Error{Code: c, Message: fmt.Sprintf(format, args...)}
}

func (e *Error) Error() string { return e.Message }

// Is makes errors.Is(err, codes.New(c, "")) true for any Error of code c.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// wire is an Error as JSON: {"code": name, "number": n, "error": message}.
type wire struct {
	Code    string `json:"code"`
	Number  uint16 `json:"number,omitempty"`
	Message string `json:"error"`
}

// MarshalJSON writes the error as the APIs answer it.
func (e *Error) MarshalJSON() ([]byte, error) {
	return json.Marshal(wire{Code: e.Code.Name(), Number: e.Code.Number(), Message: e.Message})
}

// UnmarshalJSON reads an API's error answer; a code this build does not
// know keeps its number (0 if the answer had none).
func (e *Error) UnmarshalJSON(b []byte) error {
	var w wire
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	e.Message = w.Message
	if c, ok := ByName(w.Code); ok {
		e.Code = c
	} else {
		e.Code = Code(w.Number)
	}
	return nil
}

// Of is the code of err: the code of the first Error in its chain, or 0.
func Of(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return OK
}
