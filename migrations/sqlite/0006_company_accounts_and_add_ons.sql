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
