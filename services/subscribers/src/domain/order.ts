import { conflict } from '@ledgerline/contracts';
import type { LineAction } from './lifecycle';

/** TMF622 ProductOrder states as the issue names them. */
export const ORDER_STATUSES = ['ACKNOWLEDGED', 'IN_PROGRESS', 'COMPLETED', 'FAILED'] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

export const ORDER_KINDS = ['NEW_LINE', 'PLAN_CHANGE', 'ADD_ON', 'SUSPEND', 'RESUME', 'TERMINATE', 'BAR', 'SIM_REPLACEMENT', 'ADD_ON_END'] as const;
export type OrderKind = (typeof ORDER_KINDS)[number];

const ORDER_TRANSITIONS: Readonly<Record<OrderStatus, readonly OrderStatus[]>> = {
  ACKNOWLEDGED: ['IN_PROGRESS', 'FAILED'],
  IN_PROGRESS: ['COMPLETED', 'FAILED'],
  COMPLETED: [],
  FAILED: [],
};

export function canMoveOrder(from: OrderStatus, to: OrderStatus): boolean {
  return ORDER_TRANSITIONS[from].includes(to);
}

export function moveOrder(from: OrderStatus, to: OrderStatus, field = 'input.orderId'): OrderStatus {
  if (!canMoveOrder(from, to)) throw conflict('ORDER_ILLEGAL_TRANSITION', `An order that is ${from} cannot become ${to}`, { field, from, to });
  return to;
}

export const isFinal = (s: OrderStatus): boolean => s === 'COMPLETED' || s === 'FAILED';

/** The line action an order performs once the network has done its part. */
export const LINE_ACTION_OF: Readonly<Record<OrderKind, LineAction | null>> = {
  NEW_LINE: 'ACTIVATE',
  PLAN_CHANGE: null,
  ADD_ON: null,
  SUSPEND: 'SUSPEND',
  RESUME: 'RESUME',
  TERMINATE: 'TERMINATE',
  BAR: 'BAR',
  SIM_REPLACEMENT: 'REPLACE_SIM',
  ADD_ON_END: null,
};
