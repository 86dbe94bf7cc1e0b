-- Renewals (R20, R22): the seats of an expired contract are kept here until it is renewed.

CREATE TABLE expired_access (
    contract_product_id  BIGINT NOT NULL REFERENCES contract_products (id),
    user_id              BIGINT NOT NULL REFERENCES users (id),
    contract_id          BIGINT NOT NULL REFERENCES contracts (id),
    granted_at           BIGINT NOT NULL,
    by_default           BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (contract_product_id, user_id)
);
CREATE INDEX expired_access_contract_idx ON expired_access (contract_id);
CREATE INDEX contracts_status_end_idx ON contracts (status, end_date);
CREATE INDEX contract_products_product_idx ON contract_products (product_id);
