import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { EVENTS, USAGE_INGEST_PARTITIONS, usageIngestSubject, WORK_SUBJECTS } from '@ledgerline/contracts';
import { consumerFilters, parseHubQuery, queryMatches, subjectMatches, subjectsOf } from './query';
import { callbackForLog, checkCallback, isInternalAddress, withoutCallbackQuery } from './callback';
import { afterFailure, signDelivery } from './delivery';

const work = [...Array.from({ length: USAGE_INGEST_PARTITIONS }, (_, p) => usageIngestSubject(p)), ...Object.values(WORK_SUBJECTS)];

describe('hub queries over the event registry', () => {
  it('the consumer filters read every event subject and no work subject', () => {
    const filters = consumerFilters();
    for (const e of Object.values(EVENTS))
      expect(
        filters.filter((f) => subjectMatches(f, e.subject)),
        e.subject,
      ).toHaveLength(1);
    for (const w of work)
      expect(
        filters.filter((f) => subjectMatches(f, w)),
        w,
      ).toEqual([]);
  });

  it('matches by type and subject filter (OR within a field, AND across fields)', () => {
    const q = parseHubQuery('eventType=BalanceThresholdEvent&subject=billing.wallets.balance.*');
    expect(subjectsOf(q)).toEqual([EVENTS.balanceLow.subject, EVENTS.balanceDepleted.subject]);
    expect(queryMatches(q, EVENTS.bundleFeeDue)).toBe(false);
    expect(subjectsOf(parseHubQuery('subject=billing.usage.>'))).not.toContain(WORK_SUBJECTS.chargeRequested);
    expect(queryMatches(parseHubQuery(''), { subject: usageIngestSubject(1), type: 'UsageCreateEvent' })).toBe(false);
  });

  it('names the field at fault', () => {
    expect(() => parseHubQuery('eventType=Nope')).toThrow(expect.objectContaining({ details: { field: 'query.eventType' } }));
    expect(() => parseHubQuery('subject=billing.wallets.charge.applied')).toThrow(expect.objectContaining({ details: { field: 'query.subject' } }));
    expect(() => parseHubQuery('foo=bar')).toThrow(expect.objectContaining({ details: { field: 'query' } }));
  });
});

describe('callbacks in production (SSRF)', () => {
  const production = (addresses: string[]) => ({ production: true, resolve: async () => addresses });
  it('knows internal addresses', () => {
    for (const a of [
      '127.0.0.1',
      '10.1.2.3',
      '172.20.0.1',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '::1',
      'fd00::1',
      'fe80::1',
      '::ffff:127.0.0.1',
      '0.0.0.0',
    ])
      expect(isInternalAddress(a), a).toBe(true);
    for (const a of ['93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946']) expect(isInternalAddress(a), a).toBe(false);
  });
  it('wants https to a public host', async () => {
    await expect(checkCallback('http://partner.example/hook', production(['93.184.216.34']))).rejects.toMatchObject({ details: { field: 'callback' } });
    await expect(checkCallback('https://partner.example/hook', production(['10.0.0.5']))).rejects.toThrow(/private/);
    await expect(checkCallback('https://127.0.0.1/hook', production([]))).rejects.toThrow(/private/);
    await expect(checkCallback('https://partner.example/hook', production(['93.184.216.34']))).resolves.toBe('https://partner.example/hook');
    await expect(checkCallback('http://127.0.0.1:9000/hook', { production: false, resolve: async () => [] })).resolves.toBe('http://127.0.0.1:9000/hook');
  });
});

describe('callbacks in logs and error messages', () => {
  const callback = 'https://partner.example/hooks/in?token=s3cr3t-t0k&v=2';
  it('logs show origin and path, the query only as [redacted]', () => {
    expect(callbackForLog(callback)).toBe('https://partner.example/hooks/in?[redacted]');
    expect(callbackForLog('https://partner.example:8443/hooks')).toBe('https://partner.example:8443/hooks');
    expect(callbackForLog('not a url ?token=s3cr3t')).toBe('[not a URL]');
  });
  it('an HTTP client error naming the callback or its query loses the query', () => {
    expect(withoutCallbackQuery(`request to ${callback} failed, reason: ECONNRESET`, callback)).toBe(
      'request to https://partner.example/hooks/in?[redacted] failed, reason: ECONNRESET',
    );
    expect(withoutCallbackQuery('bad path /hooks/in?token=s3cr3t-t0k&v=2', callback)).not.toContain('s3cr3t');
    expect(withoutCallbackQuery('connect ECONNREFUSED 10.0.0.1:443', callback)).toBe('connect ECONNREFUSED 10.0.0.1:443');
    // A short query is not hunted as a bare substring.
    expect(withoutCallbackQuery('invalid value for v', 'https://partner.example/hooks?v')).toBe('invalid value for v');
  });
  it('a callback that is not a URL is refused without echoing it (it may carry a token)', async () => {
    const refused = checkCallback('https://partner example/hook?token=s3cr3t', { production: false, resolve: async () => [] });
    await expect(refused).rejects.toMatchObject({ code: 'HUB_CALLBACK_INVALID', details: { field: 'callback' } });
    await expect(refused).rejects.not.toThrow(/s3cr3t/);
  });
});

describe('delivery', () => {
  it('signs timestamp.body', () => {
    expect(signDelivery('s', 1700000000, '{}')).toBe(`sha256=${createHmac('sha256', 's').update('1700000000.{}').digest('hex')}`);
    expect(signDelivery('s', 1700000000, '{}')).not.toBe(signDelivery('s', 1700000001, '{}'));
  });
  it('backs off exponentially with jitter, then dead-letters', () => {
    const policy = { maxAttempts: 4, baseDelayMs: 5000, maxDelayMs: 60_000 };
    const t0 = new Date('2026-12-01T00:00:00Z');
    const wait = (attempts: number, r: number) => {
      const next = afterFailure(attempts, t0, policy, r);
      return next.status === 'PENDING' ? next.nextAttemptAt.getTime() - t0.getTime() : next.status;
    };
    expect([wait(1, 0.5), wait(2, 0.5), wait(3, 0.5)]).toEqual([5000, 10000, 20000]);
    expect([wait(1, 0), wait(1, 0.999)]).toEqual([4000, 5998]);
    expect(wait(4, 0.5)).toBe('DEAD');
    expect(afterFailure(20, t0, { ...policy, maxAttempts: 30 }, 0.5)).toEqual({ status: 'PENDING', nextAttemptAt: new Date(t0.getTime() + 60_000) });
    // At the cap the jitter only shortens the wait: never past maxDelayMs (it reached 72 s of a 60 s cap).
    expect([wait(3, 0.999), wait(3, 0)]).toEqual([23992, 16000]);
    const capped = (r: number) => (afterFailure(20, t0, { ...policy, maxAttempts: 30 }, r) as { nextAttemptAt: Date }).nextAttemptAt.getTime() - t0.getTime();
    expect([capped(0.999), capped(0)]).toEqual([60_000, 48_000]);
  });
});
