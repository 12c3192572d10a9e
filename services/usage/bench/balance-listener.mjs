// Sees wallets' ChargeResults from its own thread, as a partner system would: the moment a balance
// changed is when wallets published its result, not when the usage process's busy event loop gets
// round to a callback (measured in the usage thread, p99 event-to-balance carried usage's own
// event-loop delay). Counts per phase go to the bench thread through shared memory; the steady
// phase's latencies (publish → result seen) when asked.
import { parentPort, workerData } from 'node:worker_threads';
import { connect } from '@nats-io/transport-node';

const { natsUrl, subject, e2eIds, steadyIds, counters, sentAt } = workerData;
// [e2e results, steady results, APPLIED results]; lastSeen[0] = ms since epoch of the latest one.
const counts = new Int32Array(counters, 0, 3);
const lastSeen = new Float64Array(counters, 16, 1);
const sent = new Float64Array(sentAt);
const index = new Map();
e2eIds.forEach((id, i) => index.set(id, -1 - i));
steadyIds.forEach((id, i) => index.set(id, i));
const seen = new Set();
const latencies = [];

const nc = await connect({ servers: natsUrl, noAsyncTraces: true });
nc.subscribe(subject, {
  callback: (_err, m) => {
    let body;
    try {
      body = JSON.parse(m.string());
    } catch {
      return;
    }
    // One ChargeResult or a JSON array of them (contracts' chargeResultsOf); REJECTED ones are not charges.
    for (const r of Array.isArray(body) ? body : [body]) {
      if (!r || typeof r.chargeId !== 'string' || r.outcome === 'REJECTED') continue;
      const at = index.get(r.chargeId);
      if (at === undefined || seen.has(r.chargeId)) continue;
      seen.add(r.chargeId);
      const now = Date.now();
      Atomics.add(counts, at < 0 ? 0 : 1, 1);
      if (r.outcome === 'APPLIED') Atomics.add(counts, 2, 1);
      lastSeen[0] = now;
      if (at >= 0) latencies.push(now - sent[at]);
    }
  },
});
await nc.flush();
parentPort.postMessage({ ready: true });
parentPort.on('message', async (msg) => {
  if (msg !== 'latencies') return;
  parentPort.postMessage({ latencies });
  await nc.close();
});
