-- +goose Up
-- A submission's declared field count (part of its signed EIP-712 type):
-- the relay and the vote requests rebuild the signed submission from the
-- row, so the count is stored with it. Rows from before hold 0.
ALTER TABLE submissions ADD COLUMN fields integer NOT NULL DEFAULT 0 CHECK (fields >= 0);

-- vsc_intake as in 00007, and it stores the field count.
DROP FUNCTION vsc_intake(bytea, text, text, text, bytea, bytea, bytea, bigint, bytea, bigint, bytea, bigint, bigint, text[], int[], int[], text[], jsonb[], boolean);
-- +goose StatementBegin
CREATE FUNCTION vsc_intake(
    p_id bytea, p_idao text, p_mode text, p_class text, p_contributor bytea, p_data_hash bytea,
    p_commitment bytea, p_records bigint, p_wrapped_key bytea, p_nonce bigint, p_signature bytea,
    p_chain_id bigint, p_blob_size bigint,
    p_kinds text[], p_chunks int[], p_nchunks int[], p_msg_ids text[], p_payloads jsonb[],
    p_blob_inline boolean, p_fields int
) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v_next bigint;
    v_collecting boolean;
BEGIN
    INSERT INTO submissions (id, idao, mode, class, contributor, data_hash, commitment, records, wrapped_key,
        nonce, signature, chain_id, blob_size, status, fields)
    VALUES (p_id, p_idao, p_mode, p_class, p_contributor, p_data_hash, p_commitment, p_records, p_wrapped_key,
        p_nonce, p_signature, p_chain_id, p_blob_size, 'received', p_fields)
    ON CONFLICT (id) DO NOTHING;
    IF NOT FOUND THEN
        RETURN 'existed';
    END IF;

    -- The blob: an upload this submission references is no longer the
    -- sweep's to collect; one the sweep is collecting is as good as gone;
    -- a blob that was not sent inline must be an upload or another
    -- submission's. Checked under the upload's row lock, so the sweep and
    -- intake never both win.
    SELECT collecting INTO v_collecting FROM blob_uploads WHERE data_hash = p_data_hash FOR UPDATE;
    IF FOUND THEN
        IF v_collecting THEN
            RAISE EXCEPTION 'blob being collected' USING ERRCODE = 'VSC03';
        END IF;
        DELETE FROM blob_uploads WHERE data_hash = p_data_hash;
    ELSIF NOT p_blob_inline AND NOT EXISTS (SELECT 1 FROM submissions WHERE data_hash = p_data_hash AND id <> p_id) THEN
        RAISE EXCEPTION 'blob missing' USING ERRCODE = 'VSC03';
    END IF;

    INSERT INTO accounts AS a (address, next_nonce) VALUES (p_contributor, 1)
    ON CONFLICT (address) DO UPDATE SET next_nonce = a.next_nonce + 1 WHERE a.next_nonce = p_nonce
    RETURNING next_nonce INTO v_next;
    IF v_next IS NULL THEN
        SELECT next_nonce INTO v_next FROM accounts WHERE address = p_contributor;
        IF p_nonce < v_next THEN
            RAISE EXCEPTION 'nonce already used' USING ERRCODE = 'VSC01', HINT = v_next::text;
        END IF;
        RAISE EXCEPTION 'nonce skips ahead' USING ERRCODE = 'VSC02', HINT = v_next::text;
    END IF;
    IF p_nonce <> 0 AND v_next = 1 THEN
        RAISE EXCEPTION 'nonce skips ahead' USING ERRCODE = 'VSC02', HINT = '0';
    END IF;

    INSERT INTO evidence (submission, kind, chunk, chunks, status)
    SELECT p_id, k, c, n, 'pending' FROM unnest(p_kinds, p_chunks, p_nchunks) AS t(k, c, n);
    INSERT INTO outbox (submission, msg_id, kind, payload)
    SELECT p_id, m, k, pl FROM unnest(p_msg_ids, p_kinds, p_payloads) AS t(m, k, pl);
    INSERT INTO submission_events (submission, status, detail)
    VALUES (p_id, 'received', cardinality(p_kinds)::text || ' job(s) queued');
    RETURN 'inserted';
END
$$;
-- +goose StatementEnd


-- +goose Down
DROP FUNCTION vsc_intake(bytea, text, text, text, bytea, bytea, bytea, bigint, bytea, bigint, bytea, bigint, bigint, text[], int[], int[], text[], jsonb[], boolean, int);
-- +goose StatementBegin
CREATE FUNCTION vsc_intake(
    p_id bytea, p_idao text, p_mode text, p_class text, p_contributor bytea, p_data_hash bytea,
    p_commitment bytea, p_records bigint, p_wrapped_key bytea, p_nonce bigint, p_signature bytea,
    p_chain_id bigint, p_blob_size bigint,
    p_kinds text[], p_chunks int[], p_nchunks int[], p_msg_ids text[], p_payloads jsonb[],
    p_blob_inline boolean
) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v_next bigint;
    v_collecting boolean;
BEGIN
    INSERT INTO submissions (id, idao, mode, class, contributor, data_hash, commitment, records, wrapped_key,
        nonce, signature, chain_id, blob_size, status)
    VALUES (p_id, p_idao, p_mode, p_class, p_contributor, p_data_hash, p_commitment, p_records, p_wrapped_key,
        p_nonce, p_signature, p_chain_id, p_blob_size, 'received')
    ON CONFLICT (id) DO NOTHING;
    IF NOT FOUND THEN
        RETURN 'existed';
    END IF;

    -- The blob: an upload this submission references is no longer the
    -- sweep's to collect; one the sweep is collecting is as good as gone;
    -- a blob that was not sent inline must be an upload or another
    -- submission's. Checked under the upload's row lock, so the sweep and
    -- intake never both win.
    SELECT collecting INTO v_collecting FROM blob_uploads WHERE data_hash = p_data_hash FOR UPDATE;
    IF FOUND THEN
        IF v_collecting THEN
            RAISE EXCEPTION 'blob being collected' USING ERRCODE = 'VSC03';
        END IF;
        DELETE FROM blob_uploads WHERE data_hash = p_data_hash;
    ELSIF NOT p_blob_inline AND NOT EXISTS (SELECT 1 FROM submissions WHERE data_hash = p_data_hash AND id <> p_id) THEN
        RAISE EXCEPTION 'blob missing' USING ERRCODE = 'VSC03';
    END IF;

    INSERT INTO accounts AS a (address, next_nonce) VALUES (p_contributor, 1)
    ON CONFLICT (address) DO UPDATE SET next_nonce = a.next_nonce + 1 WHERE a.next_nonce = p_nonce
    RETURNING next_nonce INTO v_next;
    IF v_next IS NULL THEN
        SELECT next_nonce INTO v_next FROM accounts WHERE address = p_contributor;
        IF p_nonce < v_next THEN
            RAISE EXCEPTION 'nonce already used' USING ERRCODE = 'VSC01', HINT = v_next::text;
        END IF;
        RAISE EXCEPTION 'nonce skips ahead' USING ERRCODE = 'VSC02', HINT = v_next::text;
    END IF;
    IF p_nonce <> 0 AND v_next = 1 THEN
        RAISE EXCEPTION 'nonce skips ahead' USING ERRCODE = 'VSC02', HINT = '0';
    END IF;

    INSERT INTO evidence (submission, kind, chunk, chunks, status)
    SELECT p_id, k, c, n, 'pending' FROM unnest(p_kinds, p_chunks, p_nchunks) AS t(k, c, n);
    INSERT INTO outbox (submission, msg_id, kind, payload)
    SELECT p_id, m, k, pl FROM unnest(p_msg_ids, p_kinds, p_payloads) AS t(m, k, pl);
    INSERT INTO submission_events (submission, status, detail)
    VALUES (p_id, 'received', cardinality(p_kinds)::text || ' job(s) queued');
    RETURN 'inserted';
END
$$;
-- +goose StatementEnd


ALTER TABLE submissions DROP COLUMN fields;
