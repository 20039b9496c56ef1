-- +goose Up
-- Leases for the work that one coordinator at a time must do (the
-- finisher: it signs chain txs with the coordinator's account, whose nonces
-- two senders would fight over). A holder renews its lease before it
-- expires; another takes it over only once it has. token grows on every
-- change of holder: it is the fencing token a holder checks before it acts
-- (store.CheckLease), so a holder that stalled past its lease acts no more.
CREATE TABLE leases (
    name        text PRIMARY KEY,
    holder      text NOT NULL,
    token       bigint NOT NULL CHECK (token > 0),
    acquired_at timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);

-- +goose Down
DROP TABLE leases;
