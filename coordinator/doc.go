// Package coordinator owns the submission state machine and the API's
// vocabulary: statuses, the JSON views users and acceptance tests rely on
// (CONTRACT.md), and the API's error codes. Its running parts live in
// subpackages: store (PostgreSQL), server (HTTP API, intake, outbox relay,
// result intake) and client (the Go SDK the CLI and apps use).
//
// Flow: a signed, encrypted submission is checked and stored in one
// PostgreSQL transaction together with one outbox row per verification job
// its iDAO's policy needs; the relay publishes those jobs to JetStream (with
// Nats-Msg-Id dedupe) and workers answer on the results stream, which moves
// the submission from verifying to voting (or rejected / failed).
package coordinator
