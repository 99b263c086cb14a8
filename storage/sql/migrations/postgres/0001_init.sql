-- Profiles, work items and approvals. IDs use the "C" collation so
-- that they sort by byte order, as in every other backend.

CREATE TABLE {p}profiles (
    id                  text COLLATE "C" PRIMARY KEY,
    name                text COLLATE "C" NOT NULL,
    description         text NOT NULL,
    required_approvals  integer NOT NULL,
    approvers           text NOT NULL,
    allow_self_approval boolean NOT NULL,
    version             bigint NOT NULL,
    created_at          timestamptz,
    updated_at          timestamptz,
    CONSTRAINT {p}profiles_name_key UNIQUE (name)
);

CREATE TABLE {p}work_items (
    id                 text COLLATE "C" PRIMARY KEY,
    profile_id         text COLLATE "C" NOT NULL,
    resource_type      text COLLATE "C" NOT NULL,
    resource_id        text COLLATE "C" NOT NULL,
    description        text NOT NULL,
    requested_by       text NOT NULL,
    status             text COLLATE "C" NOT NULL,
    required_approvals integer NOT NULL,
    approvals          text NOT NULL,
    rejected_by        text,
    rejection_reason   text,
    rejected_at        timestamptz,
    advance_state      text COLLATE "C" NOT NULL,
    advance_attempts   integer NOT NULL,
    advance_error      text NOT NULL,
    next_attempt_at    timestamptz,
    lease_owner        text NOT NULL,
    lease_until        timestamptz,
    advanced_at        timestamptz,
    version            bigint NOT NULL,
    created_at         timestamptz,
    decided_at         timestamptz,
    CONSTRAINT {p}work_items_status_check
        CHECK (status IN ('pending', 'approved', 'rejected')),
    CONSTRAINT {p}work_items_advance_check
        CHECK (advance_state IN ('', 'due', 'done', 'failed'))
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

-- The items whose advance needs work: the due queue, and the failed
-- items an operator looks at. Pending items, with no advance, and
-- done ones, the bulk of a long-lived table, stay out.
CREATE INDEX {p}work_items_advance
    ON {p}work_items (advance_state, id)
    WHERE advance_state IN ('due', 'failed');

-- One row per approval; the primary key lets no user approve twice.
CREATE TABLE {p}approvals (
    work_item_id text COLLATE "C" NOT NULL
        REFERENCES {p}work_items (id),
    user_id      text COLLATE "C" NOT NULL,
    comment      text NOT NULL,
    approved_at  timestamptz,
    PRIMARY KEY (work_item_id, user_id)
);
