-- +goose Up
-- iDAOs the coordinator serves. Until the chain holds them (issue 3/6) this
-- table is the registry; afterwards it mirrors chain state.
CREATE TABLE idaos (
    name            text PRIMARY KEY,
    owner           bytea NOT NULL,
    modes           text[] NOT NULL,
    policy          jsonb NOT NULL DEFAULT '{}',
    enclave_pubkey  bytea,
    enclave_report  jsonb,
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE idao_members (
    idao       text NOT NULL REFERENCES idaos(name),
    member     bytea NOT NULL,
    stake      numeric(78,0) NOT NULL CHECK (stake > 0),
    joined_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (idao, member)
);

-- Per-account nonce for signed requests: the next nonce the account must use.
CREATE TABLE accounts (
    address     bytea PRIMARY KEY,
    next_nonce  bigint NOT NULL DEFAULT 0
);

CREATE TABLE submissions (
    id           bytea PRIMARY KEY,          -- EIP-712 digest of the Submission
    idao         text NOT NULL REFERENCES idaos(name),
    mode         text NOT NULL,
    class        text NOT NULL,
    contributor  bytea NOT NULL,
    data_hash    bytea NOT NULL,
    commitment   bytea NOT NULL,
    records      bigint NOT NULL,
    wrapped_key  bytea NOT NULL,
    nonce        bigint NOT NULL,
    signature    bytea NOT NULL,
    chain_id     bigint NOT NULL,
    blob_size    bigint NOT NULL,
    status       text NOT NULL,
    reason       text,
    anchor_block bigint,
    anchor_tx    bytea,
    dat_id       text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (contributor, nonce)
);
CREATE INDEX submissions_status ON submissions (status) WHERE status NOT IN ('minted','rejected','failed','overturned');
CREATE INDEX submissions_data_hash ON submissions (data_hash);

-- One row per (submission, kind, chunk) of verification work and its outcome.
CREATE TABLE evidence (
    submission  bytea NOT NULL REFERENCES submissions(id),
    kind        text NOT NULL,
    chunk       int NOT NULL DEFAULT 0,
    chunks      int NOT NULL DEFAULT 1,
    status      text NOT NULL,               -- pending | ok | rejected | failed
    reason      text,
    data        jsonb,
    worker      text,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (submission, kind, chunk)
);

-- Transactional outbox: jobs written with the submission, published by the relay.
CREATE TABLE outbox (
    id          bigserial PRIMARY KEY,
    submission  bytea NOT NULL,
    msg_id      text NOT NULL UNIQUE,
    kind        text NOT NULL,
    payload     jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Status history, for `vsc status` and `submit --wait` progress.
CREATE TABLE submission_events (
    submission  bytea NOT NULL,
    seq         bigserial,
    status      text NOT NULL,
    detail      text,
    at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (submission, seq)
);

-- +goose Down
DROP TABLE submission_events;
DROP TABLE outbox;
DROP TABLE evidence;
DROP TABLE submissions;
DROP TABLE accounts;
DROP TABLE idao_members;
DROP TABLE idaos;
