-- +goose Up
-- Blobs being uploaded in parts (PUT /v1/blobs/{hash}/parts/{n}): a row
-- per blob from its first part until the parts are put together (then it
-- becomes a blob_uploads row) or the sweep deletes them after the blob
-- TTL. Its size counts against the same upload quotas as blob_uploads, so
-- parts in flight bound what strangers can park too.
CREATE TABLE blob_parts (
    data_hash   bytea PRIMARY KEY,
    size        bigint NOT NULL CHECK (size > 0),
    client      text NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now(),
    touched_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX blob_parts_age ON blob_parts (touched_at);

-- +goose Down
DROP TABLE blob_parts;
