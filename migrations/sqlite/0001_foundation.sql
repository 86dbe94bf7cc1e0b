-- Roster's foundation schema (SQLite). Times are Unix milliseconds; dates are 'YYYY-MM-DD'
-- text (they sort as dates); flags are 0/1 integers. Kept in step with ../postgres.

CREATE TABLE companies (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE resellers (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE users (
    id                    INTEGER PRIMARY KEY,
    email                 TEXT NOT NULL,
    first_name            TEXT NOT NULL,
    last_name             TEXT NOT NULL,
    language              TEXT NOT NULL DEFAULT 'en',
    password_hash         TEXT,
    subscriber_terms_at   INTEGER,
    coordinator_terms_at  INTEGER,
    first_sign_in_at      INTEGER,
    reseller_id           INTEGER REFERENCES resellers (id),
    created_at            INTEGER NOT NULL
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE products (
    id    INTEGER PRIMARY KEY,
    code  TEXT NOT NULL,
    name  TEXT NOT NULL
);
CREATE UNIQUE INDEX products_code_key ON products (upper(code));

CREATE TABLE releases (
    id            INTEGER PRIMARY KEY,
    product_id    INTEGER NOT NULL REFERENCES products (id),
    version       TEXT NOT NULL,
    published_at  INTEGER NOT NULL,
    UNIQUE (product_id, version)
);

CREATE TABLE contracts (
    id              INTEGER PRIMARY KEY,
    number          TEXT NOT NULL UNIQUE,
    order_number    TEXT NOT NULL,
    company_id      INTEGER NOT NULL REFERENCES companies (id),
    status          TEXT NOT NULL CHECK (status IN ('PROCESSING', 'ACTIVE', 'EXPIRED')),
    support_level   TEXT NOT NULL CHECK (support_level IN ('BASIC', 'ADVANCED')),
    renewal_kind    TEXT NOT NULL CHECK (renewal_kind IN ('AUTO', 'RESELLER', 'MANUAL')),
    billing_period  TEXT NOT NULL CHECK (billing_period IN ('MONTHLY', 'QUARTERLY', 'ANNUAL', 'MULTI_YEAR')),
    start_date      TEXT NOT NULL,
    end_date        TEXT NOT NULL CHECK (end_date > start_date),
    reseller_id     INTEGER REFERENCES resellers (id),
    cloud_credits   INTEGER NOT NULL DEFAULT 0 CHECK (cloud_credits >= 0),
    created_at      INTEGER NOT NULL
);
CREATE UNIQUE INDEX contracts_order_number_key ON contracts (order_number);
CREATE INDEX contracts_end_date_idx ON contracts (end_date);

CREATE TABLE contract_products (
    id                   INTEGER PRIMARY KEY,
    contract_id          INTEGER NOT NULL REFERENCES contracts (id),
    product_id           INTEGER NOT NULL REFERENCES products (id),
    serial_number        TEXT NOT NULL UNIQUE,
    product_key          TEXT NOT NULL,
    seats                INTEGER NOT NULL CHECK (seats >= 0),
    seats_assigned       INTEGER NOT NULL DEFAULT 0 CHECK (seats_assigned >= 0),
    coordinator_user_id  INTEGER REFERENCES users (id),
    CONSTRAINT contract_products_seat_limit CHECK (seats_assigned <= seats),
    UNIQUE (contract_id, product_id)
);

CREATE TABLE memberships (
    contract_id      INTEGER NOT NULL REFERENCES contracts (id),
    user_id          INTEGER NOT NULL REFERENCES users (id),
    status           TEXT NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'ACTIVE')),
    is_manager       INTEGER NOT NULL DEFAULT 0 CHECK (is_manager IN (0, 1)),
    designated_caller INTEGER NOT NULL DEFAULT 0 CHECK (designated_caller IN (0, 1)),
    web_support      INTEGER NOT NULL DEFAULT 0 CHECK (web_support IN (0, 1)),
    cloud_services   TEXT NOT NULL DEFAULT '',
    created_at       INTEGER NOT NULL,
    PRIMARY KEY (contract_id, user_id)
);
-- R2: at most one Contract Manager per contract (transactions keep it exactly one).
CREATE UNIQUE INDEX memberships_one_manager ON memberships (contract_id) WHERE is_manager = 1;
CREATE INDEX memberships_user_idx ON memberships (user_id);

-- One row per seat held (R11).
CREATE TABLE product_access (
    contract_product_id  INTEGER NOT NULL REFERENCES contract_products (id),
    user_id              INTEGER NOT NULL REFERENCES users (id),
    contract_id          INTEGER NOT NULL REFERENCES contracts (id),
    granted_at           INTEGER NOT NULL,
    -- 1 for the seats an admin gets by their role (R3, R5), not by a deliberate grant.
    by_default           INTEGER NOT NULL DEFAULT 0 CHECK (by_default IN (0, 1)),
    PRIMARY KEY (contract_product_id, user_id)
);
CREATE INDEX product_access_member_idx ON product_access (contract_id, user_id);

CREATE TABLE sessions (
    id          INTEGER PRIMARY KEY,
    token_hash  TEXT NOT NULL UNIQUE,
    user_id     INTEGER NOT NULL REFERENCES users (id),
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);

CREATE TABLE activation_tokens (
    id          INTEGER PRIMARY KEY,
    token_hash  TEXT NOT NULL UNIQUE,
    user_id     INTEGER NOT NULL REFERENCES users (id),
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER
);
CREATE INDEX activation_tokens_user_idx ON activation_tokens (user_id);

CREATE TABLE staff_keys (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    key_hash    TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);

-- Jobs owed, written in the transaction that causes them; a relay hands them to the queue.
CREATE TABLE outbox (
    id          INTEGER PRIMARY KEY,
    job         TEXT NOT NULL,
    payload     TEXT NOT NULL,
    due_at      INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    relayed_at  INTEGER,
    done_at     INTEGER
);
CREATE INDEX outbox_pending_idx ON outbox (due_at) WHERE relayed_at IS NULL;

-- Every email owed, and the ledger of what was sent: one row per idempotency key (R24).
-- A QUEUED row is its own outbox entry: the relay hands it to the queue (relayed_at) and
-- hands it over again if it is still QUEUED long after.
CREATE TABLE emails (
    id           INTEGER PRIMARY KEY,
    idem_key     TEXT NOT NULL UNIQUE,
    kind         TEXT NOT NULL,
    contract_id  INTEGER REFERENCES contracts (id),
    user_id      INTEGER REFERENCES users (id),
    recipient    TEXT NOT NULL,
    params       TEXT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'QUEUED' CHECK (status IN ('QUEUED', 'SENT', 'FAILED', 'CANCELLED')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT,
    claimed_until INTEGER,
    relayed_at   INTEGER,
    message_id   TEXT,
    created_at   INTEGER NOT NULL,
    sent_at      INTEGER
);
CREATE INDEX emails_contract_idx ON emails (contract_id, id);
CREATE INDEX emails_queued_idx ON emails (relayed_at, id) WHERE status = 'QUEUED';

CREATE TABLE audit_log (
    id           INTEGER PRIMARY KEY,
    contract_id  INTEGER REFERENCES contracts (id),
    actor        TEXT NOT NULL,
    kind         TEXT NOT NULL,
    detail       TEXT NOT NULL,
    at           INTEGER NOT NULL
);
CREATE INDEX audit_log_contract_idx ON audit_log (contract_id, id);
