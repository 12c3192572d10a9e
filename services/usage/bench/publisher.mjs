// Publishes usage events to JetStream from its own thread (network elements are not the usage process).
import { parentPort, workerData } from 'node:worker_threads';
import { connect } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';

const { natsUrl, mode, subjectPrefix, partitions, lines, count, rate, window, source, runId, sentAt } = workerData;
// noAsyncTraces, as the services connect: otherwise every publish builds Error objects for stack traces.
const nc = await connect({ servers: natsUrl, noAsyncTraces: true });
const js = jetstream(nc);
const enc = new TextEncoder();
const base = Date.now() - 3_600_000;
// When each event was handed to the client (ms since epoch), shared with the bench thread.
const sent = sentAt ? new Float64Array(sentAt) : undefined;

function fnv(key) {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % partitions;
}

const msisdns = Array.from({ length: lines }, (_, i) => `+4916${String(i).padStart(8, '0')}`);
const subjects = msisdns.map((m) => `${subjectPrefix}${fnv(m)}`);
const types = ['DATA', 'VOICE', 'SMS'];

function event(i) {
  const l = i % lines;
  const t = types[i % 3];
  const now = Date.now();
  if (sent) sent[i] = now;
  return {
    subject: subjects[l],
    body: JSON.stringify({ source, eventId: `${runId}-${mode}-${i}`, msisdn: msisdns[l], usageType: t, quantity: t === 'DATA' ? '1.5' : t === 'VOICE' ? '75' : '1', calledNumber: t === 'DATA' ? undefined : '+4930123456', occurredAt: new Date(base + i).toISOString(), sentAt: now }),
  };
}

const started = Date.now();
const pending = [];
if (rate) {
  // Steady rate: one slice of events every 10 ms.
  const perTick = Math.max(1, Math.round(rate / 100));
  let sentCount = 0;
  while (sentCount < count) {
    for (let k = 0; k < perTick && sentCount < count; k++, sentCount++) {
      const e = event(sentCount);
      pending.push(js.publish(e.subject, enc.encode(e.body)));
    }
    if (pending.length > window) await Promise.all(pending.splice(0));
    const due = started + (sentCount / rate) * 1000;
    const wait = due - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
} else {
  for (let i = 0; i < count; i++) {
    const e = event(i);
    pending.push(js.publish(e.subject, enc.encode(e.body)));
    if (pending.length >= window) await Promise.all(pending.splice(0));
  }
}
await Promise.all(pending);
parentPort.postMessage({ started, finished: Date.now() });
await nc.drain();
