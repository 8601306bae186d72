-- Version 1: the engine's durable state, one table per kind of record
-- (cpim_engine::store). Addresses are the text form `local@domain`; times are
-- milliseconds since the Unix epoch; ids are 64-bit integers. Every column is
-- NOT NULL and every key is a declared PRIMARY KEY, so that the same DDL
-- means the same thing on PostgreSQL.

CREATE TABLE local_user (
    address     TEXT   NOT NULL PRIMARY KEY
);

CREATE TABLE publication (
    presentity  TEXT   NOT NULL,
    publisher   TEXT   NOT NULL,
    pidf        TEXT   NOT NULL,
    expires_at  BIGINT NOT NULL,
    PRIMARY KEY (presentity, publisher)
);

CREATE TABLE subscription (
    watcher     TEXT   NOT NULL,
    target      TEXT   NOT NULL,
    expires_at  BIGINT NOT NULL,
    state       TEXT   NOT NULL CHECK (state IN ('active', 'pending')),
    PRIMARY KEY (watcher, target)
);

-- subject_kind 'anyone' has subject '' (a primary-key column cannot be NULL
-- on PostgreSQL).
CREATE TABLE policy (
    presentity    TEXT NOT NULL,
    subject_kind  TEXT NOT NULL CHECK (subject_kind IN ('watcher', 'domain', 'anyone')),
    subject       TEXT NOT NULL,
    decision      TEXT NOT NULL CHECK (decision IN ('allow', 'deny', 'ask')),
    PRIMARY KEY (presentity, subject_kind, subject)
);

CREATE TABLE watcher_request (
    presentity  TEXT   NOT NULL,
    watcher     TEXT   NOT NULL,
    since       BIGINT NOT NULL,
    PRIMARY KEY (presentity, watcher)
);

CREATE TABLE block (
    inbox       TEXT   NOT NULL,
    blocked     TEXT   NOT NULL,
    PRIMARY KEY (inbox, blocked)
);

CREATE TABLE delegation (
    relay       BIGINT NOT NULL PRIMARY KEY,
    origin      BIGINT NOT NULL,
    trans_id    BIGINT NOT NULL,
    deadline    BIGINT NOT NULL
);
