// Runs the GraphQL over HTTP specification's audits (graphql-http's serverAudits) against a
// running server: node audit.mjs http://127.0.0.1:PORT/graphql
// Prints every audit; exits 1 when a MUST or SHOULD audit does not pass (MAY audits are
// reported but optional, as the specification makes them).
import { auditServer } from 'graphql-http';

const url = process.argv[2];
if (!url) {
  console.error('usage: node audit.mjs URL');
  process.exit(2);
}
const results = await auditServer({ url });
let failed = 0;
for (const r of results) {
  const level = r.name.split(' ')[0];
  const mark = r.status === 'ok' ? 'ok  ' : r.status === 'notice' ? 'note' : 'FAIL';
  console.log(`${mark} ${r.id} ${r.name}${r.status === 'ok' ? '' : `: ${r.reason}`}`);
  if (r.status !== 'ok' && (level === 'MUST' || level === 'SHOULD')) failed += 1;
}
const ok = results.filter((r) => r.status === 'ok').length;
console.log(`${ok} of ${results.length} audits pass; ${failed} MUST/SHOULD audits fail`);
process.exit(failed === 0 ? 0 : 1);
