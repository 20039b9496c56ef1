-- +goose Up
-- vsc_intake stores an accepted submission, its evidence rows, its outbox
-- jobs, its first event and its nonce bump in one statement (one round
-- trip, one implicit transaction). It returns 'existed' when a submission
-- with that id is already stored (idempotent intake) and raises
-- VSC01 (nonce already used) or VSC02 (nonce skips ahead) with the
-- account's next nonce in HINT, which rolls everything back.
-- +goose StatementBegin
CREATE FUNCTION vsc_intake(
    p_id bytea, p_idao text, p_mode text, p_class text, p_contributor bytea, p_data_hash bytea,
    p_commitment bytea, p_records bigint, p_wrapped_key bytea, p_nonce bigint, p_signature bytea,
    p_chain_id bigint, p_blob_size bigint,
    p_kinds text[], p_chunks int[], p_nchunks int[], p_msg_ids text[], p_payloads jsonb[]
) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v_next bigint;
BEGIN
    INSERT INTO submissions (id, idao, mode, class, contributor, data_hash, commitment, records, wrapped_key,
        nonce, signature, chain_id, blob_size, status)
    VALUES (p_id, p_idao, p_mode, p_class, p_contributor, p_data_hash, p_commitment, p_records, p_wrapped_key,
        p_nonce, p_signature, p_chain_id, p_blob_size, 'received')
    ON CONFLICT (id) DO NOTHING;
    IF NOT FOUND THEN
        RETURN 'existed';
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
DROP FUNCTION vsc_intake;
