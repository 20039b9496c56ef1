// Package query is the enclave's query engine: a small SQL subset of
// aggregates over a dataset's records, in exact integer arithmetic, that
// never returns an individual record.
//
//	SELECT item, … [WHERE expr] [GROUP BY col, …]
//
// Parse turns query text into a Query (errors name the byte offset and what
// was expected), Check holds it against the dataset's fields and the class
// owner's Policy, and Run evaluates it column-wise over a records.Dataset.
// Groups with fewer than the policy's min_group_size records are suppressed
// and counted; a WHERE clause that leaves fewer than that many records gives
// a result with no rows and BelowFloor set. Result.Hash is the digest the
// enclave signs; QueryHash is the digest an app signs in its JobRequest.
// Cache keeps decrypted, parsed datasets in enclave memory, evicted by size.
//
// The package is pure (values in, values out: no I/O, no clock). The
// grammar, the rounding rule, the privacy floor and the result encoding are
// documented in docs/QUERY.md; a change to any of them changes result hashes.
package query
