import { badInput, conflict } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import type { ProductOrder } from '../persistence/entities';
import { loadOrder } from './fulfil-order';

export interface ConfirmNetworkUndoneCommand {
  orderId: string;
  /** What staff did or saw (a ticket, the provisioning system's answer): 1-500 characters. */
  note: string;
  /** Who confirms (the caller), recorded as "<role>:<subject>". */
  by: { subject: string; role: string };
  now: Date;
}

const NOTE_MAX = 500;

/**
 * Staff confirm by hand that the network no longer holds what a FAILED order applied there (its compensation never
 * confirmed: the saga's undo refused, a workflow ended while in progress; an agent checked the provisioning system and
 * undid it). From then its activation no longer holds the line's number back (`assertNumberNotQuarantined`), as when
 * the saga or the workflow confirms it. Audited on the order: when, who, and the note. Idempotent: an order already
 * confirmed (by anyone) is answered as it is, first confirmation kept. Refused: an order that is not FAILED (CONFLICT
 * ORDER_NOT_AWAITING_NETWORK_UNDO: an open order is still being fulfilled or undone, a completed one is live).
 */
export async function confirmNetworkUndone(em: Em, c: ConfirmNetworkUndoneCommand): Promise<ProductOrder> {
  const orderId = c.orderId.trim();
  if (!orderId) throw badInput('input.orderId', 'Name the order whose undo at the network is confirmed', 'ORDER_ID_REQUIRED');
  const note = c.note.trim();
  if (!note) throw badInput('input.note', 'Say how the undo was confirmed (a ticket, what the provisioning system shows)', 'NOTE_REQUIRED');
  if ([...note].length > NOTE_MAX) throw badInput('input.note', `A note is at most ${NOTE_MAX} characters`, 'NOTE_TOO_LONG');
  const order = await loadOrder(em, orderId);
  if (order.status !== 'FAILED') {
    throw conflict('ORDER_NOT_AWAITING_NETWORK_UNDO', `Order ${order.id} is ${order.status}: only a FAILED order waits for its undo at the network to be confirmed`, { field: 'input.orderId', status: order.status });
  }
  if (order.networkUndoneAt) return order;
  order.networkUndoneAt = c.now;
  order.networkUndoneBy = `${c.by.role}:${c.by.subject}`.slice(0, 200);
  order.networkUndoneNote = note;
  await em.flush();
  return order;
}
