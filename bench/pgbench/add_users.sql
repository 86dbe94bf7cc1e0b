-- The transaction of one addUsers naming one new person with a seat of ACAD, as raw SQL for
-- pgbench: lock the contract row, a new user, the membership, the conditional seat count and
-- the seat, Get Started and Permissions Changed emails in the ledger, one audit row.
-- Run by bench/benches/api.rs with -D valid=<contracts that have a member 1>.
\set k random(0, :valid - 1)
\set c :k + :k / 199 + 1
\set cp :c * 2 - 1
BEGIN;
UPDATE contracts SET id = id WHERE id = :c;
INSERT INTO users (email, first_name, last_name, language, created_at) VALUES ('pgbench-' || md5(random()::text) || '@bench.example', 'First', 'Last', 'en', 0) RETURNING id AS uid \gset
INSERT INTO memberships (contract_id, user_id, status, created_at) VALUES (:c, :uid, 'PENDING', 0) ON CONFLICT DO NOTHING;
WITH taken AS (UPDATE contract_products SET seats_assigned = seats_assigned + 1 WHERE id = :cp AND contract_id = :c AND seats_assigned < seats RETURNING id) INSERT INTO product_access (contract_product_id, user_id, contract_id, granted_at, by_default) SELECT id, :uid::bigint, :c::bigint, 0, 0 FROM taken;
INSERT INTO emails (idem_key, kind, contract_id, user_id, recipient, params, created_at) VALUES ('pgbench/get-started/' || md5(random()::text), 'get-started', :c, :uid, 'new@bench.example', '{"contractNumber": "C-1","company": "Company 1","firstName": "First","lastName": "Last","role": "USER"}', 0) ON CONFLICT DO NOTHING;
INSERT INTO emails (idem_key, kind, contract_id, user_id, recipient, params, created_at) VALUES ('pgbench/permissions-changed/' || md5(random()::text), 'permissions-changed', :c, :uid, 'new@bench.example', '{"contractNumber": "C-1","company": "Company 1","firstName": "First","lastName": "Last","benefits": ["AutoCAD"]}', 0) ON CONFLICT DO NOTHING;
INSERT INTO audit_log (contract_id, actor, kind, detail, at) VALUES (:c, 'user:1000', 'member.added', '{"user": 1,"email": "new@bench.example","before": null,"after": {"benefits": ["AutoCAD"],"roles": ["USER"]},"emails": [1,2]}', 0);
COMMIT;
