import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CALLER_HEADER, CALLER_ISSUED_AT_HEADER, CALLER_SIGNATURE_HEADER, DomainError, type Caller } from '@ledgerline/contracts';
import { callerFromHeaders, callerHeaders } from './caller';
import { ConfigError, loadServiceConfig } from './config';

const SECRET = 'unit-test-internal-secret';
const AGENT: Caller = { role: 'AGENT', subject: 'agent.bob@operator.example', scopes: [] };
const NOW = new Date('2026-12-01T10:00:00.000Z');
const at = (seconds: number) => new Date(NOW.getTime() + seconds * 1000);

/** Verifies `headers` at NOW (or `now`), as a subgraph does. */
function verify(headers: Record<string, string>, options: { now?: Date; maxAgeSeconds?: number } = {}): Caller {
  return callerFromHeaders((name) => headers[name], SECRET, options.now ?? NOW, { maxAgeSeconds: options.maxAgeSeconds });
}

/** The refusal `run` throws: a DomainError, UNAUTHENTICATED. */
function refusal(run: () => unknown): DomainError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(DomainError);
    expect((error as DomainError).code).toBe('UNAUTHENTICATED');
    expect((error as DomainError).category).toBe('UNAUTHENTICATED');
    return error as DomainError;
  }
  throw new Error('the forwarded caller was accepted');
}

describe('forwarded caller: the signature covers when it was issued, and goes stale', () => {
  it('accepts a freshly signed caller (signed 10 s ago, or just now)', () => {
    expect(verify(callerHeaders(AGENT, SECRET, at(-10)))).toEqual(AGENT);
    expect(verify(callerHeaders(AGENT, SECRET, NOW))).toEqual(AGENT);
    expect(verify(callerHeaders(AGENT, SECRET, at(-300)))).toEqual(AGENT);
  });

  it('sends the issued-at instant in its own header', () => {
    const headers = callerHeaders(AGENT, SECRET, NOW);
    expect(headers[CALLER_ISSUED_AT_HEADER]).toBe(String(NOW.getTime()));
    expect(Object.keys(headers).sort()).toEqual([CALLER_HEADER, CALLER_ISSUED_AT_HEADER, CALLER_SIGNATURE_HEADER].sort());
  });

  it('refuses a signature older than the maximum age (300 s by default): a captured header pair does not work for ever', () => {
    const error = refusal(() => verify(callerHeaders(AGENT, SECRET, at(-301))));
    expect(error.message).toMatch(/older than 300 s/);
    expect(refusal(() => verify(callerHeaders(AGENT, SECRET, at(-86_400)))).message).toMatch(/older than 300 s/);
  });

  it('takes the maximum age it is given', () => {
    const headers = callerHeaders(AGENT, SECRET, at(-60));
    expect(verify(headers, { maxAgeSeconds: 120 })).toEqual(AGENT);
    expect(refusal(() => verify(headers, { maxAgeSeconds: 30 })).message).toMatch(/older than 30 s/);
  });

  it('allows 30 s of clock skew into the future, not more', () => {
    expect(verify(callerHeaders(AGENT, SECRET, at(30)))).toEqual(AGENT);
    expect(refusal(() => verify(callerHeaders(AGENT, SECRET, at(31)))).message).toMatch(/in the future/);
    expect(refusal(() => verify(callerHeaders(AGENT, SECRET, at(3600)))).message).toMatch(/in the future/);
  });

  it('refuses an issued-at changed after signing (an old capture made to look fresh)', () => {
    const captured = callerHeaders(AGENT, SECRET, at(-3600));
    const replayed = { ...captured, [CALLER_ISSUED_AT_HEADER]: String(NOW.getTime()) };
    expect(refusal(() => verify(replayed)).message).toMatch(/not signed by the gateway/);
  });

  it('refuses a caller without an issued-at (as the old, timeless headers were), or with one that is not a time', () => {
    const headers = callerHeaders(AGENT, SECRET, NOW);
    const withoutIssuedAt = Object.fromEntries(Object.entries(headers).filter(([name]) => name !== CALLER_ISSUED_AT_HEADER));
    expect(refusal(() => verify(withoutIssuedAt)).message).toMatch(/no issued-at/);
    // The pre-expiry signature (HMAC over the claims alone) with a fresh issued-at beside it.
    const encoded = headers[CALLER_HEADER]!;
    const timeless = {
      [CALLER_HEADER]: encoded,
      [CALLER_SIGNATURE_HEADER]: createHmac('sha256', SECRET).update(encoded).digest('base64url'),
      [CALLER_ISSUED_AT_HEADER]: String(NOW.getTime()),
    };
    expect(refusal(() => verify(timeless)).message).toMatch(/not signed by the gateway/);
    for (const bad of ['', 'yesterday', '1.5e12', '-1000', String(NOW.getTime()) + '0000000']) {
      expect(refusal(() => verify({ ...headers, [CALLER_ISSUED_AT_HEADER]: bad })).message).toMatch(/no issued-at|not signed|in the future/);
    }
  });

  it('still refuses a tampered caller, another secret or no signature', () => {
    const headers = callerHeaders(AGENT, SECRET, NOW);
    const admin = Buffer.from(JSON.stringify({ ...AGENT, role: 'ADMIN' })).toString('base64url');
    expect(refusal(() => verify({ ...headers, [CALLER_HEADER]: admin })).message).toMatch(/not signed by the gateway/);
    expect(refusal(() => verify(callerHeaders(AGENT, 'another-secret', NOW))).message).toMatch(/not signed by the gateway/);
    expect(refusal(() => verify({ [CALLER_HEADER]: headers[CALLER_HEADER]!, [CALLER_ISSUED_AT_HEADER]: headers[CALLER_ISSUED_AT_HEADER]! })).message).toMatch(
      /not signed by the gateway/,
    );
  });

  it('an unsigned request without a caller is anonymous, as before', () => {
    expect(verify({}).role).toBe('ANONYMOUS');
  });
});

describe('LEDGERLINE_CALLER_MAX_AGE_SECONDS', () => {
  it('defaults to 300 s and takes a positive whole number of seconds', () => {
    expect(loadServiceConfig('usage', {}).callerMaxAgeSeconds).toBe(300);
    expect(loadServiceConfig('usage', { LEDGERLINE_CALLER_MAX_AGE_SECONDS: '60' }).callerMaxAgeSeconds).toBe(60);
  });

  it.each(['0', '-5', 'ten', '1.5'])('refuses %s, naming the setting', (raw) => {
    const run = () => loadServiceConfig('usage', { LEDGERLINE_CALLER_MAX_AGE_SECONDS: raw });
    expect(run).toThrow(ConfigError);
    expect(run).toThrow(/^LEDGERLINE_CALLER_MAX_AGE_SECONDS: /);
  });
});
