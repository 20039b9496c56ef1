-- +goose Up
-- Votes of quorum members, checked on arrival (signature, membership, stake).
CREATE TABLE votes (
    submission     bytea NOT NULL REFERENCES submissions(id),
    member         bytea NOT NULL,
    approve        boolean NOT NULL,
    result_digest  bytea NOT NULL,
    reason         text,
    stake          numeric(78,0) NOT NULL,
    signature      bytea NOT NULL,
    counted        boolean NOT NULL,   -- false: signed a digest other than the certified one
    received_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (submission, member)
);

ALTER TABLE submissions
    ADD COLUMN result_digest bytea,
    ADD COLUMN qc_hash bytea,
    ADD COLUMN voting_since timestamptz;

-- +goose Down
ALTER TABLE submissions DROP COLUMN result_digest, DROP COLUMN qc_hash, DROP COLUMN voting_since;
DROP TABLE votes;
