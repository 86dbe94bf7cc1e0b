-- Support cases (R17), reseller case access (R18) and Contract Manager change requests (R15).

CREATE TABLE reseller_case_access (
    contract_id  INTEGER NOT NULL REFERENCES contracts (id),
    reseller_id  INTEGER NOT NULL REFERENCES resellers (id),
    can_view     INTEGER NOT NULL DEFAULT 0 CHECK (can_view IN (0, 1)),
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (contract_id, reseller_id)
);
CREATE INDEX reseller_case_access_reseller_idx ON reseller_case_access (reseller_id, can_view);
CREATE INDEX users_reseller_idx ON users (reseller_id);

CREATE TABLE support_cases (
    id                   INTEGER PRIMARY KEY,
    case_id              TEXT NOT NULL UNIQUE,
    contract_id          INTEGER NOT NULL REFERENCES contracts (id),
    submitter_user_id    INTEGER NOT NULL REFERENCES users (id),
    kind                 TEXT NOT NULL CHECK (kind IN ('GENERAL', 'CHANGE_CONTRACT_MANAGER')),
    subject              TEXT NOT NULL,
    description          TEXT NOT NULL,
    contract_product_id  INTEGER REFERENCES contract_products (id),
    status               TEXT NOT NULL DEFAULT 'OPEN' CHECK (status IN ('OPEN', 'IN_PROGRESS', 'RESOLVED', 'CLOSED')),
    proposed_manager     TEXT,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
);
CREATE INDEX support_cases_contract_idx ON support_cases (contract_id, created_at);

CREATE TABLE case_comments (
    id          INTEGER PRIMARY KEY,
    case_id     INTEGER NOT NULL REFERENCES support_cases (id),
    author      TEXT NOT NULL,
    body        TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX case_comments_case_idx ON case_comments (case_id, id);
