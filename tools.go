//go:build tools

// Package vsc pins the project's dependencies before every one of them is
// imported by code (go mod tidy keeps them because of this file).
package vsc

import (
	_ "github.com/consensys/gnark-crypto/ecc"
	_ "github.com/consensys/gnark/backend/groth16"
	_ "github.com/edgelesssys/ego/enclave"
	_ "github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/nats-io/nats-server/v2/server"
	_ "github.com/nats-io/nats.go/jetstream"
	_ "github.com/pressly/goose/v3"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "go.etcd.io/bbolt"
)
