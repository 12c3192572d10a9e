import { conflict, notFound } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import { transitionLine } from '../domain/lifecycle';
import { LINE_ACTION_OF, type OrderKind } from '../domain/order';
import { Line, ProductOrder } from '../persistence/entities';
import type { LineOrderResult } from './add-line';
import { findReplayedOrder, placeOrder } from './place-order';

export interface LineChangeCommand {
  kind: Extract<OrderKind, 'SUSPEND' | 'RESUME' | 'TERMINATE' | 'BAR'>;
  lineId: string;
  reason?: string | null;
  idempotencyKey?: string | null;
  now: Date;
}

/**
 * Orders a lifecycle change. Refused at once (CONFLICT) when the line's status does not allow it,
 * or when another order for the line is still open.
 */
export async function requestLineChange(em: Em, c: LineChangeCommand): Promise<LineOrderResult> {
  const { now, ...input } = c;
  const replay = await findReplayedOrder(em, c.idempotencyKey, c.kind, input);
  if (replay) return { order: replay, line: await em.findOneOrFail(Line, { id: replay.lineId }) };
  const line = await em.findOne(Line, { id: c.lineId });
  if (!line) throw notFound('Line', c.lineId, 'input.lineId');
  transitionLine(line.status as never, LINE_ACTION_OF[c.kind]!, 'input.lineId');
  await assertNoOpenOrder(em, line.id);
  const order = placeOrder(em, { kind: c.kind, billingAccountId: line.billingAccountId, lineId: line.id, request: { reason: c.reason ?? null }, idempotencyKey: c.idempotencyKey, input, now });
  await em.flush();
  return { line, order };
}

export async function assertNoOpenOrder(em: Em, lineId: string): Promise<void> {
  const open = await em.findOne(ProductOrder, { lineId, status: { $in: ['ACKNOWLEDGED', 'IN_PROGRESS'] } });
  if (open) {
    throw conflict('ORDER_ALREADY_OPEN', `Order ${open.id} (${open.kind}) for this line is still ${open.status}`, { field: 'input.lineId', orderId: open.id });
  }
}
