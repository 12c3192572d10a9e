import { createHash } from 'node:crypto';
import { conflict, newId } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import type { OrderKind } from '../domain/order';
import { Line, ProductOrder } from '../persistence/entities';
import { onPostgres } from '../persistence/platform';
import { emitOrderState } from './events';

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value).sort().filter((k) => (value as Record<string, unknown>)[k] !== undefined).map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

export function requestHash(kind: string, input: unknown): string {
  return createHash('sha256').update(`${kind}\u001f${canonical(input)}`).digest('hex');
}

/**
 * An earlier order of the billing account with the same idempotency key: the same one again (same
 * input) or CONFLICT (other input). A key is the caller's and scoped to the account (unique
 * (billing_account_id, idempotency_key)): another account's order under the same key is another
 * customer's request, neither replayed nor refused nor revealed. Checked before any validation (the
 * caller resolves only the account, from the input's account or line) so a retry after success
 * returns the first answer. No account (an unknown one): no earlier order.
 *
 * Takes the key's lock first (`lockOrderKey`, held until the transaction ends), so a retry sent
 * while the first request is still running waits here and then finds its order (before, it found
 * none, went on and was refused MSISDN_DUPLICATE / ORDER_ALREADY_OPEN for a request that
 * succeeded). Callers look the key up before taking any row lock (key, then line or account),
 * so two requests never take them crosswise.
 */
export async function findReplayedOrder(em: Em, billingAccountId: string | null | undefined, idempotencyKey: string | null | undefined, kind: OrderKind, input: unknown): Promise<ProductOrder | null> {
  if (!idempotencyKey || !billingAccountId) return null;
  await lockOrderKey(em, billingAccountId, idempotencyKey);
  const existing = await em.findOne(ProductOrder, { billingAccountId, idempotencyKey });
  if (!existing) return null;
  if (existing.kind !== kind || existing.requestHash !== requestHash(kind, input)) {
    throw conflict('IDEMPOTENCY_KEY_REUSED', `Idempotency key ${idempotencyKey} was already used for a different request`, { field: 'input.idempotencyKey' });
  }
  return existing;
}

/**
 * The account's idempotency key, locked until the transaction ends (a PostgreSQL transaction-level
 * advisory lock; the same transaction takes it again without waiting): of two requests with one
 * key, the second waits for the first to commit or roll back. SQLite runs one writer at a time.
 */
async function lockOrderKey(em: Em, billingAccountId: string, idempotencyKey: string): Promise<void> {
  if (!onPostgres(em)) return;
  await em.execute('select pg_advisory_xact_lock(hashtext(?), hashtext(?))', [`subscribers-order-key:${billingAccountId}`, idempotencyKey]);
}

/**
 * `findReplayedOrder` for an order of a line, before the line is checked or locked: the account is
 * the line's (a line never changes account; an unknown line has no earlier order, and the caller
 * then refuses it as without a key).
 */
export async function findReplayedLineOrder(em: Em, lineId: string, idempotencyKey: string | null | undefined, kind: OrderKind, input: unknown): Promise<ProductOrder | null> {
  if (!idempotencyKey) return null;
  const line = await em.findOne(Line, { id: lineId });
  return findReplayedOrder(em, line?.billingAccountId, idempotencyKey, kind, input);
}

export interface PlaceOrderCommand {
  kind: OrderKind;
  billingAccountId: string;
  lineId: string;
  request: Record<string, unknown>;
  idempotencyKey?: string | null;
  /** The caller's input, hashed for idempotency. */
  input: unknown;
  now: Date;
}

export function placeOrder(em: Em, c: PlaceOrderCommand): ProductOrder {
  const order = em.create(ProductOrder, {
    id: newId('order'),
    kind: c.kind,
    status: 'ACKNOWLEDGED',
    billingAccountId: c.billingAccountId,
    lineId: c.lineId,
    request: JSON.stringify(c.request),
    idempotencyKey: c.idempotencyKey ?? null,
    requestHash: c.idempotencyKey ? requestHash(c.kind, c.input) : null,
    failureCode: null,
    failureMessage: null,
    createdAt: c.now,
    updatedAt: c.now,
    completedAt: null,
  });
  emitOrderState(em, order, c.now);
  return order;
}
