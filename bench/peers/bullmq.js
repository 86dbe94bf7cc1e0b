// The BullMQ peer of Roster's jobs benchmark (bench/benches/jobs.rs runs it).
// In rounds of BATCH jobs: pushes them one at a time from C concurrent producers, then drains
// them with a fresh Worker (concurrency C) running a no-op processor, timed to the round's last
// 'completed' event. Prints one JSON line of figures (push and drain times summed over rounds).
// Usage: node bullmq.js N C REDIS_URL QUEUE_NAME BATCH
'use strict';
const { Queue, Worker } = require('bullmq');

const seconds = (since) => Number(process.hrtime.bigint() - since) / 1e9;

async function main() {
  const n = Number(process.argv[2] || 20000);
  const c = Number(process.argv[3] || 32);
  const url = new URL(process.argv[4] || 'redis://127.0.0.1:6379');
  const name = process.argv[5] || `roster-bench-${process.pid}`;
  const batch = Number(process.argv[6] || n);
  const connection = { host: url.hostname, port: Number(url.port || 6379) };
  const queue = new Queue(name, { connection });
  await queue.obliterate({ force: true }).catch(() => {});

  let pushS = 0;
  let drainS = 0;
  for (let first = 0; first < n; first += batch) {
    const last = Math.min(first + batch, n);
    const pushStart = process.hrtime.bigint();
    let next = first;
    const producers = [];
    for (let p = 0; p < c; p++) {
      producers.push((async () => {
        while (next < last) {
          const i = next++;
          await queue.add('noop', { i });
        }
      })());
    }
    await Promise.all(producers);
    pushS += seconds(pushStart);

    const want = last - first;
    let done = 0;
    let finished;
    const allDone = new Promise((resolve) => { finished = resolve; });
    const drainStart = process.hrtime.bigint();
    const worker = new Worker(name, async () => {}, { connection, concurrency: c });
    worker.on('completed', () => {
      done += 1;
      if (done === want) finished();
    });
    worker.on('failed', (_job, err) => { console.error('failed', err); });
    await allDone;
    drainS += seconds(drainStart);
    await worker.close();
  }
  await queue.obliterate({ force: true }).catch(() => {});
  await queue.close();
  console.log(JSON.stringify({ jobs: n, batch, concurrency: c, push_s: pushS, drain_s: drainS }));
}

main().catch((e) => { console.error(e); process.exit(1); });
