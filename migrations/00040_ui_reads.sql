-- +goose Up
-- Reads of the Web UI: recent submissions newest first (GET
-- /v1/submissions, paginated by (created_at, id)), and status moves in
-- the order they were recorded (the event stream tails them by seq).
CREATE INDEX submissions_recent ON submissions (created_at DESC, id DESC);
CREATE INDEX submission_events_seq ON submission_events (seq);

-- +goose Down
DROP INDEX submission_events_seq;
DROP INDEX submissions_recent;
