-- Version 2: subscriptions of local watchers to presentities of other
-- domains, relayed by route and accepted there (cpim_engine
-- RemoteSubscriptionRecord). `binding` is the route's binding the
-- subscription went through, so that its end goes the same way.

CREATE TABLE remote_subscription (
    watcher     TEXT   NOT NULL,
    target      TEXT   NOT NULL,
    binding     TEXT   NOT NULL,
    expires_at  BIGINT NOT NULL,
    state       TEXT   NOT NULL CHECK (state IN ('active', 'pending')),
    PRIMARY KEY (watcher, target)
);
