-- Version 2: subscriptions of local watchers to presentities of other
-- domains, relayed by route (cpim_engine RemoteSubscriptionRecord).
-- `binding` is the route's binding the subscription went through, so that
-- its end goes the same way. While the watcher's subscribe or fetch is in
-- progress, the request_* columns hold it and `expires_at` is the deadline
-- for the other side's answer; once accepted they are all NULL (the one
-- nullable group of the schema: an in-progress request is all or nothing).

CREATE TABLE remote_subscription (
    watcher           TEXT   NOT NULL,
    target            TEXT   NOT NULL,
    binding           TEXT   NOT NULL,
    expires_at        BIGINT NOT NULL,
    state             TEXT   NOT NULL CHECK (state IN ('active', 'pending')),
    request_phase     TEXT   CHECK (request_phase IN ('awaiting', 'answered')),
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
