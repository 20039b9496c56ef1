-- +goose Up
-- A row the relay cannot publish is retried with back-off (next_try), its
-- tries counted and its last error kept; one that NATS refuses for good
-- (over a message limit) is set aside in outbox_failed after a few tries,
-- with its reason, and its submission fails. So no row blocks the others.
ALTER TABLE outbox
    ADD COLUMN attempts int NOT NULL DEFAULT 0,
    ADD COLUMN last_error text,
    ADD COLUMN next_try timestamptz NOT NULL DEFAULT now();

CREATE TABLE outbox_failed (
    id          bigint PRIMARY KEY,          -- the outbox row's id
    submission  bytea NOT NULL,
    msg_id      text NOT NULL,
    kind        text NOT NULL,
    payload     jsonb NOT NULL,
    attempts    int NOT NULL,
    reason      text NOT NULL,
    created_at  timestamptz NOT NULL,
    failed_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outbox_failed_submission ON outbox_failed (submission);

-- +goose Down
DROP TABLE outbox_failed;
ALTER TABLE outbox DROP COLUMN attempts, DROP COLUMN last_error, DROP COLUMN next_try;
