/**
 * consumeBatches with `readyForNext` (the ingest consumer waits for the pipeline's rating): what
 * arrives while a batch is being rated becomes one next batch, not one batch per message. Without
 * it a free slot took whatever had just arrived (batches of 1-50 events at 5,000/s, each with a
 * transaction and round trips of its own).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { consumeBatches } from '../src/events/jetstream';
import { filePlanSource, waitFor } from './support';

let svc: TestService;
const run = Math.random().toString(36).slice(2, 8);
const logger = createLogger('ingest-batching-test', 'warn');

beforeAll(async () => {
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource(), consumers: [] }));
});

afterAll(async () => {
  await svc?.close();
});

/** Batch sizes seen when 1 message is handled (held "in rating") while 20 more arrive one by one. */
async function batchSizes(name: string, gated: boolean): Promise<number[]> {
  const subject = `billing.test.batching.${run}.${name}`;
  const sizes: number[] = [];
  let rated!: () => void;
  const rating = new Promise<void>((resolve) => (rated = resolve));
  const stop = await consumeBatches(
    svc.runtime.messaging,
    { durable: `batching-${run}-${name}`, filter: subject, deliverNew: true, max: 1000, concurrency: 3, ...(gated ? { readyForNext: () => rating } : {}), logger },
    async (batch) => {
      sizes.push(batch.length);
      if (sizes.length === 1) await rating;
    },
  );
  try {
    const js = svc.runtime.messaging.js;
    await js.publish(subject, 'first');
    await waitFor(async () => sizes.length === 1, 10_000, 'the first batch');
    for (let i = 0; i < 20; i++) {
      await js.publish(subject, `m${i}`);
      await new Promise((r) => setTimeout(r, 5));
    }
    await new Promise((r) => setTimeout(r, 200));
    rated();
    await waitFor(async () => sizes.reduce((a, b) => a + b, 0) === 21, 10_000, 'every message');
    return sizes;
  } finally {
    await stop();
  }
}

describe('ingest micro-batches', () => {
  it('what arrives while a batch is rated is taken as one batch once the rating is done', async () => {
    expect(await batchSizes('gated', true)).toEqual([1, 20]);
  });

  it('without readyForNext, free slots take messages as they arrive (what the gate is for)', async () => {
    const sizes = await batchSizes('ungated', false);
    expect(sizes.length).toBeGreaterThan(2);
    expect(sizes[1]).toBeLessThan(20);
  });
});
