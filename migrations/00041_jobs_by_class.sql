-- +goose Up
-- A DAT class's data-service jobs, newest first (GET /v1/jobs?class=, the
-- class page's usage), paginated by (created_at, id).
CREATE INDEX jobs_class_recent ON jobs (class, created_at DESC, id DESC);

-- +goose Down
DROP INDEX jobs_class_recent;
