import { describe, expect, it } from 'vitest';
import { APPROVAL_SCOPE, DEFAULT_APPROVAL_DAILY_LIMITS, DEFAULT_APPROVAL_LIMITS, approvalDailyLimitsFromEnv, approvalDailyWindowStart, dailyLimitExceeded, approvalExpired, approvalExpiresAt, approvalFailure, approvalLimit, approvalLimitsFromEnv, approvalLimitsProblems, approvalTtlHoursFromEnv, isApprovalExpired, isApprover, needsApproval } from './approval-policy';
import { DomainError } from './errors';
import { Decimal } from './money';
import type { Caller } from './caller';

const agent: Caller = { role: 'AGENT', subject: 'ann', scopes: [] };
const supervisor: Caller = { role: 'AGENT', subject: 'sue', scopes: [APPROVAL_SCOPE] };
const admin: Caller = { role: 'ADMIN', subject: 'adam', scopes: [] };
const system: Caller = { role: 'SYSTEM', subject: 'worker', scopes: ['*'] };

describe('approval limits', () => {
  it('defaults: EUR/USD 50.00, GBP 40.00, any currency not named 0; exact decimals at the edge', () => {
    expect(approvalLimitsProblems(DEFAULT_APPROVAL_LIMITS)).toEqual([]);
    expect(approvalLimit(DEFAULT_APPROVAL_LIMITS, 'EUR').toFixed(2)).toBe('50.00');
    expect(approvalLimit(DEFAULT_APPROVAL_LIMITS, 'GBP').toFixed(2)).toBe('40.00');
    expect(approvalLimit(DEFAULT_APPROVAL_LIMITS, 'SEK').toFixed()).toBe('0');
    expect(needsApproval(DEFAULT_APPROVAL_LIMITS, agent, new Decimal('50.00'), 'EUR')).toBe(false);
    expect(needsApproval(DEFAULT_APPROVAL_LIMITS, agent, new Decimal('50.01'), 'EUR')).toBe(true);
    expect(needsApproval(DEFAULT_APPROVAL_LIMITS, agent, new Decimal('-50.01'), 'EUR'), 'a debit counts by its size').toBe(true);
    expect(needsApproval(DEFAULT_APPROVAL_LIMITS, agent, new Decimal('40.01'), 'GBP')).toBe(true);
    expect(needsApproval(DEFAULT_APPROVAL_LIMITS, agent, new Decimal('0.01'), 'SEK')).toBe(true);
  });

  it('only a plain AGENT is limited; ADMIN and an AGENT with billing:approve approve, SYSTEM does not', () => {
    for (const c of [supervisor, admin, system]) expect(needsApproval(DEFAULT_APPROVAL_LIMITS, c, new Decimal('1000000'), 'EUR'), c.subject).toBe(false);
    expect([agent, supervisor, admin, system].map(isApprover)).toEqual([false, true, true, false]);
  });

  it('LEDGERLINE_APPROVAL_LIMITS overrides per currency; bad input stops start-up naming the setting and the key', () => {
    const limits = approvalLimitsFromEnv({ LEDGERLINE_APPROVAL_LIMITS: '{"EUR":"100.00","*":"10"}' });
    expect(approvalLimit(limits, 'EUR').toFixed(2)).toBe('100.00');
    expect(approvalLimit(limits, 'GBP').toFixed(2)).toBe('40.00');
    expect(approvalLimit(limits, 'SEK').toFixed()).toBe('10');
    expect(approvalLimitsFromEnv({})).toBe(DEFAULT_APPROVAL_LIMITS);
    const bad: [string, RegExp][] = [
      ['not json', /^LEDGERLINE_APPROVAL_LIMITS is not JSON/],
      ['[1]', /^LEDGERLINE_APPROVAL_LIMITS is not valid: must be a JSON object/],
      ['{"EUR":50}', /LEDGERLINE_APPROVAL_LIMITS is not valid: "EUR" must be a decimal string/],
      ['{"EUR":"-1"}', /"EUR" must be a decimal string of 0 or more/],
      ['{"EUR":"1.005"}', /"EUR" has more decimals than EUR's 2/],
      ['{"XYZ":"1"}', /"XYZ" is not a currency/],
      ['{"JPY":"1.5"}', /"JPY" has more decimals/],
    ];
    for (const [value, message] of bad) expect(() => approvalLimitsFromEnv({ LEDGERLINE_APPROVAL_LIMITS: value }), value).toThrow(message);
  });
});

describe('approval expiry and failure', () => {
  it('LEDGERLINE_APPROVAL_TTL_HOURS: 72 by default; a request is approvable until created + TTL; a bad setting stops start-up naming it', () => {
    expect(approvalTtlHoursFromEnv({})).toBe(72);
    expect(approvalTtlHoursFromEnv({ LEDGERLINE_APPROVAL_TTL_HOURS: '24' })).toBe(24);
    expect(approvalTtlHoursFromEnv({ LEDGERLINE_APPROVAL_TTL_HOURS: '0.5' })).toBe(0.5);
    for (const bad of ['0', '-1', 'three days', '1e3', '9000']) expect(() => approvalTtlHoursFromEnv({ LEDGERLINE_APPROVAL_TTL_HOURS: bad }), bad).toThrow(/LEDGERLINE_APPROVAL_TTL_HOURS/);
    const made = new Date('2026-11-01T10:00:00Z');
    expect(approvalExpiresAt(made, 72).toISOString()).toBe('2026-11-04T10:00:00.000Z');
    expect(isApprovalExpired(made, new Date('2026-11-04T09:59:59.999Z'), 72)).toBe(false);
    expect(isApprovalExpired(made, new Date('2026-11-04T10:00:00Z'), 72)).toBe(true);
    expect(approvalExpired('Approval request apr_1', made, 72)).toMatchObject({ code: 'APPROVAL_EXPIRED', category: 'CONFLICT', details: { field: 'input.id', expiredAt: '2026-11-04T10:00:00.000Z' } });
  });

  it('a coded business refusal ends a request FAILED; a database error or an INTERNAL one (a provider away) leaves it PENDING', () => {
    expect(approvalFailure(new DomainError('CREDIT_NOTE_EXCEEDS_INVOICE', 'too much'))).toEqual({ code: 'CREDIT_NOTE_EXCEEDS_INVOICE', reason: 'too much' });
    expect(approvalFailure(new DomainError('DISPUTE_ALREADY_DECIDED', 'decided', {}, 'CONFLICT'))?.code).toBe('DISPUTE_ALREADY_DECIDED');
    expect(approvalFailure(new DomainError('PAYMENT_PROVIDER_UNAVAILABLE', 'try again', {}, 'INTERNAL'))).toBeNull();
    expect(approvalFailure(Object.assign(new Error('Connection terminated unexpectedly'), { code: '57P01' }))).toBeNull();
  });
});

describe('the daily approval limit', () => {
  it('defaults to four times the per-operation limits; LEDGERLINE_APPROVAL_DAILY_LIMITS overrides per currency; bad input stops start-up naming the setting', () => {
    for (const c of ['EUR', 'USD', 'GBP', 'CHF', 'JPY', 'SEK']) expect(approvalLimit(DEFAULT_APPROVAL_DAILY_LIMITS, c).eq(approvalLimit(DEFAULT_APPROVAL_LIMITS, c).times(4))).toBe(true);
    expect(approvalLimit(approvalDailyLimitsFromEnv({ LEDGERLINE_APPROVAL_DAILY_LIMITS: '{"EUR":"500.00"}' }), 'EUR').toFixed(2)).toBe('500.00');
    expect(approvalDailyLimitsFromEnv({})).toBe(DEFAULT_APPROVAL_DAILY_LIMITS);
    expect(() => approvalDailyLimitsFromEnv({ LEDGERLINE_APPROVAL_DAILY_LIMITS: '{"EUR":50}' })).toThrow(/^LEDGERLINE_APPROVAL_DAILY_LIMITS is not valid: "EUR" must be a decimal string/);
    expect(() => approvalDailyLimitsFromEnv({ LEDGERLINE_APPROVAL_DAILY_LIMITS: 'nope' })).toThrow(/^LEDGERLINE_APPROVAL_DAILY_LIMITS is not JSON/);
  });

  it('what was moved alone plus the operation (by its size) may reach the limit, not pass it; the window is the 24 h before now', () => {
    const daily = { EUR: '200.00', '*': '0' };
    expect(dailyLimitExceeded(daily, new Decimal('150.00'), new Decimal('50.00'), 'EUR')).toBeNull();
    expect(dailyLimitExceeded(daily, new Decimal('150.00'), new Decimal('-50.01'), 'EUR')).toMatch(/daily limit of 200 EUR \(LEDGERLINE_APPROVAL_DAILY_LIMITS\)/);
    expect(dailyLimitExceeded(daily, new Decimal('0'), new Decimal('0.01'), 'SEK')).not.toBeNull();
    expect(approvalDailyWindowStart(new Date('2026-11-28T10:00:00Z')).toISOString()).toBe('2026-11-27T10:00:00.000Z');
  });
});
