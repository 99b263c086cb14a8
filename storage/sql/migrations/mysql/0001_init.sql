-- Profiles, work items and approvals. MySQL commits each DDL
-- statement on its own, so each one here may run again after a crash
-- half way: CREATE TABLE IF NOT EXISTS, with every index inside it.
-- utf8mb4_bin makes text compare and sort by byte order.

CREATE TABLE IF NOT EXISTS {p}profiles (
    id                  VARCHAR(255) NOT NULL,
    name                VARCHAR(255) NOT NULL,
    description         TEXT NOT NULL,
    required_approvals  INT NOT NULL,
    approvers           MEDIUMTEXT NOT NULL,
    allow_self_approval BOOLEAN NOT NULL,
    version             BIGINT NOT NULL,
    created_at          DATETIME(6) NULL,
    updated_at          DATETIME(6) NULL,
    PRIMARY KEY (id),
    UNIQUE KEY name_key (name)
) ENGINE = InnoDB
  DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE IF NOT EXISTS {p}work_items (
    id                 VARCHAR(255) NOT NULL,
    profile_id         VARCHAR(255) NOT NULL,
    resource_type      VARCHAR(32) NOT NULL,
    resource_id        VARCHAR(255) NOT NULL,
    description        TEXT NOT NULL,
    requested_by       VARCHAR(255) NOT NULL,
    status             VARCHAR(16) NOT NULL,
    required_approvals INT NOT NULL,
    approvals          MEDIUMTEXT NOT NULL,
    rejected_by        VARCHAR(255) NULL,
    rejection_reason   TEXT NULL,
    rejected_at        DATETIME(6) NULL,
    advance_state      VARCHAR(16) NOT NULL,
    advance_attempts   INT NOT NULL,
    advance_error      TEXT NOT NULL,
    next_attempt_at    DATETIME(6) NULL,
    lease_owner        VARCHAR(255) NOT NULL,
    lease_until        DATETIME(6) NULL,
    advanced_at        DATETIME(6) NULL,
    version            BIGINT NOT NULL,
    created_at         DATETIME(6) NULL,
    decided_at         DATETIME(6) NULL,
    -- The resource ID while Pending, NULL once decided: a unique key
    -- on it allows one Pending work item per resource.
    pending_resource_id VARCHAR(255)
        GENERATED ALWAYS AS
        (CASE WHEN status = 'pending' THEN resource_id END) STORED,
    PRIMARY KEY (id),
    UNIQUE KEY pending_resource (resource_type, pending_resource_id),
    KEY status_id (status, id),
    KEY profile_status_id (profile_id, status, id),
    KEY resource (resource_id, resource_type, id),
    KEY advance (advance_state, id),
    CONSTRAINT {p}work_items_status_check
        CHECK (status IN ('pending', 'approved', 'rejected')),
    CONSTRAINT {p}work_items_advance_check
        CHECK (advance_state IN ('', 'due', 'done', 'failed'))
) ENGINE = InnoDB
  DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- One row per approval; the primary key lets no user approve twice.
CREATE TABLE IF NOT EXISTS {p}approvals (
    work_item_id VARCHAR(255) NOT NULL,
    user_id      VARCHAR(255) NOT NULL,
    comment      TEXT NOT NULL,
    approved_at  DATETIME(6) NULL,
    PRIMARY KEY (work_item_id, user_id),
    CONSTRAINT {p}approvals_item_fk FOREIGN KEY (work_item_id)
        REFERENCES {p}work_items (id)
) ENGINE = InnoDB
  DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
