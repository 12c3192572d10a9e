// The network element of the charging benchmark: sends reserve requests over NATS request/reply
// at a fixed rate (open loop) and reports each latency from its scheduled send. It runs as its
// own process, as a real network element would, so its work never queues behind the service's.
// Usage (from charging.bench.ts): node --import tsx reserve-load.ts <natsUrl> <subject> <rate> <seconds> <wallets> [requestIdPrefix]
import { connect } from '@nats-io/transport-node';

const [url, subject, rateText, secondsText, walletsText, idPrefix = 'rq'] = process.argv.slice(2);
const RATE = Number(rateText);
const total = RATE * Number(secondsText);
const WALLETS = Number(walletsText);

// noAsyncTraces, as the services and a lean network element connect: otherwise every request builds Error objects for stack traces.
const nc = await connect({ servers: url, noAsyncTraces: true });
const latencies: number[] = [];
const lateness: number[] = [];
const failures: Record<string, number> = {};
const fail = (why: string) => {
  failures[why] = (failures[why] ?? 0) + 1;
};
const pending: Promise<void>[] = [];
const t0 = performance.now();
let i = 0;
await new Promise<void>((done) => {
  const tick = () => {
    const elapsed = performance.now() - t0;
    for (; i < total && (i * 1000) / RATE <= elapsed; i++) {
      const w = (i * 31) % WALLETS;
      const due = t0 + (i * 1000) / RATE;
      lateness.push(performance.now() - due);
      const body = JSON.stringify({ requestId: `${idPrefix}-${i}`, sessionId: `${idPrefix}-s-${i}`, billingAccountId: `acc_b${w}`, currency: 'EUR', usageType: 'DATA', unit: 'MB', requestedUnits: '10', pricePerUnit: '0.01', allowanceIds: [] });
      pending.push(
        nc.request(subject!, body, { timeout: 5000 })
          .then((m) => {
            // From the time it was due, not when the timer got round to it: a late send is latency too.
            latencies.push(performance.now() - due);
            const code = m.json<{ resultCode: string }>().resultCode;
            if (code !== 'SUCCESS') fail(code);
          })
          .catch((e: Error) => fail(e.message)),
      );
    }
    if (i < total) setTimeout(tick, 1);
    else done();
  };
  tick();
});
const sendSeconds = (performance.now() - t0) / 1000;
await Promise.all(pending);
await nc.close();
process.stdout.write(`${JSON.stringify({ sent: total, sendSeconds, latencies, lateness, failures })}\n`);
