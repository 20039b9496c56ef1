-- +goose Up
-- A member may sign many votes at once (quorum.SignBatch): such a vote's
-- signature signs the batch root, and the vote keeps its inclusion proof
-- (root, size, index, path) so it can be checked alone, by the chain too.
ALTER TABLE votes ADD COLUMN IF NOT EXISTS batch jsonb;

-- +goose Down
ALTER TABLE votes DROP COLUMN IF EXISTS batch;
