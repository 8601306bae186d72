-- Version 3: a refresh of a relayed subscription, in progress, is stored
-- like a subscribe in progress (request_phase 'refreshing'; expires_at stays
-- the subscription's end). A CHECK constraint cannot be altered in place on
-- SQLite, so the table is rebuilt with the wider one and its rows copied;
-- every statement is plain SQL that PostgreSQL accepts as well.

CREATE TABLE remote_subscription_v3 (
    watcher           TEXT   NOT NULL,
    target            TEXT   NOT NULL,
    binding           TEXT   NOT NULL,
    expires_at        BIGINT NOT NULL,
    state             TEXT   NOT NULL CHECK (state IN ('active', 'pending')),
    request_phase     TEXT   CHECK (request_phase IN ('awaiting', 'answered', 'refreshing')),
    request_relay     BIGINT,
    request_origin    BIGINT,
    request_trans_id  BIGINT,
    request_duration  BIGINT,
    CHECK ((request_phase IS NULL AND request_relay IS NULL AND request_origin IS NULL
            AND request_trans_id IS NULL AND request_duration IS NULL)
        OR (request_phase IS NOT NULL AND request_relay IS NOT NULL
            AND request_origin IS NOT NULL AND request_trans_id IS NOT NULL
            AND request_duration IS NOT NULL)),
    PRIMARY KEY (watcher, target)
);

INSERT INTO remote_subscription_v3 (watcher, target, binding, expires_at, state,
    request_phase, request_relay, request_origin, request_trans_id, request_duration)
SELECT watcher, target, binding, expires_at, state,
    request_phase, request_relay, request_origin, request_trans_id, request_duration
FROM remote_subscription;

DROP TABLE remote_subscription;

ALTER TABLE remote_subscription_v3 RENAME TO remote_subscription;
