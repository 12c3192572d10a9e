import { describe, expect, it } from 'vitest';
import { ORDER_STATUSES, canMoveOrder, moveOrder, type OrderStatus } from './order';

const LEGAL: [OrderStatus, OrderStatus][] = [
  ['ACKNOWLEDGED', 'IN_PROGRESS'],
  ['ACKNOWLEDGED', 'FAILED'],
  ['IN_PROGRESS', 'COMPLETED'],
  ['IN_PROGRESS', 'FAILED'],
];

describe('order state machine', () => {
  const all = ORDER_STATUSES.flatMap((from) => ORDER_STATUSES.map((to) => [from, to] as [OrderStatus, OrderStatus]));
  it.each(all)('%s -> %s', (from, to) => {
    const legal = LEGAL.some(([a, b]) => a === from && b === to);
    expect(canMoveOrder(from, to)).toBe(legal);
    if (legal) expect(moveOrder(from, to)).toBe(to);
    else expect(() => moveOrder(from, to)).toThrowError(expect.objectContaining({ code: 'ORDER_ILLEGAL_TRANSITION', category: 'CONFLICT' }));
  });
});
