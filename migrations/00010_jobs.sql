-- +goose Up
-- Data-service jobs: an app's signed JobRequest with its query, routed to
-- one provider; the provider's answer (encrypted to the app) once
-- delivered. Settlement is the chain's: a job's settled state is read from
-- there. One (app, provider, nonce) holds one job, so a replayed nonce is
-- refused before it is routed.
CREATE TABLE jobs (
    id           bytea PRIMARY KEY,
    app          bytea NOT NULL,
    provider     bytea NOT NULL,
    class        bytea NOT NULL,
    token        bytea NOT NULL,
    idao         text NOT NULL,
    units        bigint NOT NULL CHECK (units > 0),
    max_fee      numeric NOT NULL CHECK (max_fee >= 0),
    nonce        bigint NOT NULL,
    deadline     bigint NOT NULL,
    query        text NOT NULL,
    request      jsonb NOT NULL,
    signature    bytea NOT NULL,
    status       text NOT NULL CHECK (status IN ('requested', 'running', 'delivered', 'failed')),
    reason       text,
    code         int,
    answer       jsonb,
    result_hash  bytea,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (app, provider, nonce)
);

-- +goose Down
DROP TABLE jobs;
