-- Version 4: subscriptions are kept in the order of their primary key
-- (target, watcher), so that reading them all, as a restart does, gives
-- each presentity's subscriptions together with no sort. The rows move to a
-- table clustered on that key (one B-tree where the version 1 table had
-- two: the rows and the key's index); every lookup names both columns, so
-- the column order of the key costs nothing.
--
-- `WITHOUT ROWID` is the one SQLite-only clause of the schema: a PostgreSQL
-- backend leaves it out (its tables are heaps read in any order; the
-- engine's restore does not depend on the order, only goes faster with it).

CREATE TABLE subscription_v4 (
    target      TEXT   NOT NULL,
    watcher     TEXT   NOT NULL,
    expires_at  BIGINT NOT NULL,
    state       TEXT   NOT NULL CHECK (state IN ('active', 'pending')),
    PRIMARY KEY (target, watcher)
) WITHOUT ROWID;

INSERT INTO subscription_v4 (target, watcher, expires_at, state)
SELECT target, watcher, expires_at, state FROM subscription;

DROP TABLE subscription;

ALTER TABLE subscription_v4 RENAME TO subscription;
