-- R34 case topics and comment authors, R35 Express Service IDs, R36 cloud credits and usage,
-- R37 reseller contact details. Kept in step with ../postgres.

ALTER TABLE support_cases ADD COLUMN topic TEXT NOT NULL DEFAULT 'GENERAL'
    CHECK (topic IN ('GENERAL', 'INSTALLATION', 'LICENSING', 'ACCOUNT', 'TECHNICAL', 'CHANGE_CONTRACT_MANAGER'));
UPDATE support_cases SET topic = 'CHANGE_CONTRACT_MANAGER' WHERE kind = 'CHANGE_CONTRACT_MANAGER';

-- Who wrote a comment: a user (their User ID) or staff (author_user_id NULL, author 'staff:<key>').
ALTER TABLE case_comments ADD COLUMN author_user_id INTEGER REFERENCES users (id);
UPDATE case_comments SET author_user_id = CAST(substr(author, 6) AS INTEGER) WHERE author LIKE 'user:%';

-- R35: one per ADVANCED contract, given at order time.
CREATE TABLE express_service_ids (
    contract_id         INTEGER PRIMARY KEY REFERENCES contracts (id),
    express_service_id  TEXT NOT NULL UNIQUE
);
INSERT INTO express_service_ids (contract_id, express_service_id)
    SELECT id, 'ES-' || number FROM contracts WHERE support_level = 'ADVANCED';

-- R36: the balance is contracts.cloud_credits (CHECK >= 0 is the last line against overdraft);
-- purchases are idempotent by order number, usage is what the vendor's cloud reports.
CREATE TABLE cloud_credit_purchases (
    id            INTEGER PRIMARY KEY,
    contract_id   INTEGER NOT NULL REFERENCES contracts (id),
    order_number  TEXT NOT NULL,
    credits       INTEGER NOT NULL CHECK (credits > 0),
    created_at    INTEGER NOT NULL
);
CREATE UNIQUE INDEX cloud_credit_purchases_order_key ON cloud_credit_purchases (order_number);

CREATE TABLE cloud_usage (
    id           INTEGER PRIMARY KEY,
    contract_id  INTEGER NOT NULL REFERENCES contracts (id),
    user_id      INTEGER NOT NULL REFERENCES users (id),
    service      TEXT NOT NULL,
    credits      INTEGER NOT NULL CHECK (credits > 0),
    used_at      INTEGER NOT NULL,
    created_at   INTEGER NOT NULL
);
CREATE INDEX cloud_usage_contract_idx ON cloud_usage (contract_id, used_at);

-- R37
ALTER TABLE resellers ADD COLUMN email TEXT;
ALTER TABLE resellers ADD COLUMN phone TEXT;
ALTER TABLE resellers ADD COLUMN website TEXT;
