import { describe, expect, it } from 'vitest';
import { DomainError } from '@ledgerline/contracts';
import { LINE_ACTIONS, LINE_STATUSES, isServiceAllowed, transitionLine, type LineAction, type LineStatus } from './lifecycle';

// The expected lifecycle written out independently of TRANSITIONS: every pair not here is illegal.
const LEGAL: [LineStatus, LineAction, LineStatus][] = [
  ['PENDING', 'ACTIVATE', 'ACTIVE'],
  ['PENDING', 'TERMINATE', 'TERMINATED'],
  ['ACTIVE', 'SUSPEND', 'SUSPENDED'],
  ['ACTIVE', 'BAR', 'BARRED'],
  ['ACTIVE', 'TERMINATE', 'TERMINATED'],
  ['SUSPENDED', 'RESUME', 'ACTIVE'],
  ['SUSPENDED', 'BAR', 'BARRED'],
  ['SUSPENDED', 'TERMINATE', 'TERMINATED'],
  ['BARRED', 'RESUME', 'ACTIVE'],
  ['BARRED', 'TERMINATE', 'TERMINATED'],
  ['ACTIVE', 'REPLACE_SIM', 'ACTIVE'],
  ['SUSPENDED', 'REPLACE_SIM', 'SUSPENDED'],
];
const legalKey = new Set(LEGAL.map(([from, action]) => `${from}:${action}`));
const ILLEGAL = LINE_STATUSES.flatMap((from) => LINE_ACTIONS.filter((action) => !legalKey.has(`${from}:${action}`)).map((action) => [from, action] as const));

describe('line lifecycle', () => {
  it.each(LEGAL)('%s --%s--> %s', (from, action, to) => {
    expect(transitionLine(from, action)).toBe(to);
  });

  it('covers all 30 (status, action) pairs', () => {
    expect(LEGAL.length + ILLEGAL.length).toBe(LINE_STATUSES.length * LINE_ACTIONS.length);
    expect(ILLEGAL.length).toBe(18);
  });

  it.each(ILLEGAL)('%s cannot %s: CONFLICT LINE_ILLEGAL_TRANSITION', (from, action) => {
    let error: unknown;
    try {
      transitionLine(from, action, 'input.lineId');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DomainError);
    expect(error).toMatchObject({ code: 'LINE_ILLEGAL_TRANSITION', category: 'CONFLICT', details: { field: 'input.lineId', from, action } });
  });

  it('serves only ACTIVE lines', () => {
    expect(LINE_STATUSES.filter(isServiceAllowed)).toEqual(['ACTIVE']);
  });
});
