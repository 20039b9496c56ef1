-- +goose Up
-- iDAOs may live on the chain (the coordinator reads them through its chain
-- link), so a submission's iDAO is not necessarily a row here.
ALTER TABLE submissions DROP CONSTRAINT IF EXISTS submissions_idao_fkey;

-- +goose Down
SELECT 1;
