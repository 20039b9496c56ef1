package codes

import (
	"net/http"
	"slices"
)

// The enclave's query engine's refusals (1150–1199, part of the API's range):
// a job whose query is refused is failed with one of these and charges
// nothing.
const (
	// QueryInvalid: the text is not in the query language or is over a limit.
	QueryInvalid Code = 1150 + iota
	// QueryBareColumn: a column selected without an aggregate is not in
	// GROUP BY, which would return individual records.
	QueryBareColumn
	// QueryUnknownColumn: the dataset has no such column.
	QueryUnknownColumn
	// QueryNotAllowed: the class owner's policy does not allow the
	// aggregate or the column.
	QueryNotAllowed
	// QueryBelowFloor: the WHERE clause leaves fewer records than the
	// privacy floor (min_group_size).
	QueryBelowFloor
	// QueryTooLarge: the result would be over the engine's size limit.
	QueryTooLarge
)

var queryAPICodes = []entry{
	{QueryInvalid, "query_invalid", http.StatusBadRequest, "the query is not in the query language (see docs/QUERY.md)"},
	{QueryBareColumn, "query_bare_column", http.StatusUnprocessableEntity, "the query selects a column outside GROUP BY, which would return individual records"},
	{QueryUnknownColumn, "query_unknown_column", http.StatusUnprocessableEntity, "the query names a column the dataset does not have"},
	{QueryNotAllowed, "query_not_allowed", http.StatusForbidden, "the class's policy does not allow this query"},
	{QueryBelowFloor, "query_below_floor", http.StatusUnprocessableEntity, "the query's WHERE clause leaves fewer records than the privacy floor"},
	{QueryTooLarge, "query_too_large", http.StatusUnprocessableEntity, "the query's result would be over the size limit"},
}

// apiCodes is the API's whole list, in number order.
var apiCodes = slices.Concat(coreAPICodes, queryAPICodes)
