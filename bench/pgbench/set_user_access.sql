-- The transaction of one setUserAccess (grant or revoke one product seat for one member), as
-- raw SQL for pgbench: lock the contract row, toggle the member's seat of REVIT with the
-- conditional seat count Roster uses, one Permissions Changed email in the ledger, one audit
-- row. Run by bench/benches/api.rs with -D valid=<contracts that have a member 1>.
\set k random(0, :valid - 1)
\set c :k + :k / 199 + 1
\set u :c * 1000 + 1
\set cp :c * 2
BEGIN;
UPDATE contracts SET id = id WHERE id = :c;
SELECT count(*) AS held FROM product_access WHERE contract_product_id = :cp AND user_id = :u \gset
\if :held > 0
DELETE FROM product_access WHERE contract_product_id = :cp AND user_id = :u;
UPDATE contract_products SET seats_assigned = seats_assigned - 1 WHERE id = :cp;
\else
WITH taken AS (UPDATE contract_products SET seats_assigned = seats_assigned + 1 WHERE id = :cp AND contract_id = :c AND seats_assigned < seats RETURNING id) INSERT INTO product_access (contract_product_id, user_id, contract_id, granted_at, by_default) SELECT id, :u::bigint, :c::bigint, 0, 0 FROM taken;
\endif
INSERT INTO emails (idem_key, kind, contract_id, user_id, recipient, params, created_at) VALUES ('pgbench/permissions-changed/' || md5(random()::text), 'permissions-changed', :c, :u, 'u' || :c::text || '.1@bench.example', '{"contractNumber": "C-1","company": "Company 1","firstName": "First1","lastName": "Last1","benefits": ["AutoCAD","Revit"]}', 0) ON CONFLICT DO NOTHING;
INSERT INTO audit_log (contract_id, actor, kind, detail, at) VALUES (:c, 'user:1000', 'access.changed', '{"user": 1,"email": "u1.1@bench.example","before": {"benefits": ["AutoCAD"],"roles": ["USER"]},"after": {"benefits": ["AutoCAD","Revit"],"roles": ["USER"]},"emails": [1]}', 0);
COMMIT;
