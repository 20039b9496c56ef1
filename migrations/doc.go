// Package migrations holds the coordinator's PostgreSQL schema as goose SQL
// migrations, embedded in the binary and applied at start (see Apply).
package migrations
