-- Profiles, work items and approvals. Text compares with the BINARY
-- collation, so IDs sort by byte order; times are Unix microseconds.

CREATE TABLE {p}profiles (
    id                  TEXT NOT NULL PRIMARY KEY,
    name                TEXT NOT NULL UNIQUE,
    description         TEXT NOT NULL,
    required_approvals  INTEGER NOT NULL,
    approvers           TEXT NOT NULL,
    allow_self_approval INTEGER NOT NULL,
    version             INTEGER NOT NULL,
    created_at          INTEGER,
    updated_at          INTEGER
);

CREATE TABLE {p}work_items (
    id                 TEXT NOT NULL PRIMARY KEY,
    profile_id         TEXT NOT NULL,
    resource_type      TEXT NOT NULL,
    resource_id        TEXT NOT NULL,
    description        TEXT NOT NULL,
    requested_by       TEXT NOT NULL,
    status             TEXT NOT NULL
        CHECK (status IN ('pending', 'approved', 'rejected')),
    required_approvals INTEGER NOT NULL,
    approvals          TEXT NOT NULL,
    rejected_by        TEXT,
    rejection_reason   TEXT,
    rejected_at        INTEGER,
    advance_state      TEXT NOT NULL
        CHECK (advance_state IN ('', 'due', 'done', 'failed')),
    advance_attempts   INTEGER NOT NULL,
    advance_error      TEXT NOT NULL,
    next_attempt_at    INTEGER,
    lease_owner        TEXT NOT NULL,
    lease_until        INTEGER,
    advanced_at        INTEGER,
    version            INTEGER NOT NULL,
    created_at         INTEGER,
    decided_at         INTEGER
);

-- One Pending work item per resource.
CREATE UNIQUE INDEX {p}work_items_pending_resource
    ON {p}work_items (resource_type, resource_id)
    WHERE status = 'pending';

CREATE INDEX {p}work_items_status
    ON {p}work_items (status, id);

CREATE INDEX {p}work_items_profile
    ON {p}work_items (profile_id, status, id);

CREATE INDEX {p}work_items_resource
    ON {p}work_items (resource_id, resource_type, id);

-- The items whose advance needs work: due or failed.
CREATE INDEX {p}work_items_advance
    ON {p}work_items (advance_state, id)
    WHERE advance_state IN ('due', 'failed');

-- One row per approval; the primary key lets no user approve twice.
CREATE TABLE {p}approvals (
    work_item_id TEXT NOT NULL REFERENCES {p}work_items (id),
    user_id      TEXT NOT NULL,
    comment      TEXT NOT NULL,
    approved_at  INTEGER,
    PRIMARY KEY (work_item_id, user_id)
);
