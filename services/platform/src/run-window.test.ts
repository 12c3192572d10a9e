import { DeliverPolicy } from '@nats-io/jetstream';
import { describe, expect, it } from 'vitest';
import { deliverFrom, startRunWindow } from './nats';

describe('throw-away consumers start at the run window', () => {
  it("reads from the window's start once moved (a later test file in the same process), and a real deployment from the stream's start", () => {
    const at = new Date('2026-11-28T15:00:00.000Z');
    startRunWindow(at);
    expect(deliverFrom(true)).toEqual({ deliver_policy: DeliverPolicy.StartTime, opt_start_time: '2026-11-28T15:00:00.000Z' });
    startRunWindow(new Date('2026-11-28T15:05:00.000Z'));
    expect(deliverFrom(true).opt_start_time).toBe('2026-11-28T15:05:00.000Z');
    expect(deliverFrom(false)).toEqual({ deliver_policy: DeliverPolicy.All });
  });
});
