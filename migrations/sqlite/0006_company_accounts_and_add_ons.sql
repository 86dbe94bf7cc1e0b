-- Issue 16 (R30, R31). A company is the vendor's customer account: orders with the same
-- customer number join one company; an order without one is a company of its own.
ALTER TABLE companies ADD COLUMN customer_number TEXT;
CREATE UNIQUE INDEX companies_customer_number_key ON companies (customer_number);

-- Add-on orders (R31), one row per order number so a repeated order changes nothing.
CREATE TABLE add_on_orders (
    order_number  TEXT PRIMARY KEY,
    contract_id   INTEGER NOT NULL REFERENCES contracts (id),
    lines         TEXT NOT NULL,
    created_at    INTEGER NOT NULL
);
CREATE INDEX add_on_orders_contract ON add_on_orders (contract_id);

-- R32: the contract whose order or admin created a User ID; only that contract's admins may
-- correct the address of someone who never signed in.
ALTER TABLE users ADD COLUMN created_by_contract INTEGER;

-- R32: a signed-in user's pending change of address; the token (hashed) is issued when the
-- confirmation email goes out, and the old address stays in force until it is followed.
CREATE TABLE email_changes (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users (id),
    new_email   TEXT NOT NULL,
    token_hash  TEXT UNIQUE,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER
);
CREATE INDEX email_changes_user ON email_changes (user_id);
