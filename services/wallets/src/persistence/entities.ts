import { defineEntity, type InferEntity } from '@mikro-orm/core';

/**
 * The ORM only needs to know the wallet table (migrations and the outbox relay run through it);
 * the ledger itself is read and written with plain SQL (see src/persistence/sql.ts), because the
 * charging hot path cannot afford a unit of work per charge.
 */
export const Wallet = defineEntity({
  name: 'Wallet',
  tableName: 'wallet',
  uniques: [{ properties: ['billingAccountId', 'currency'] }],
  properties: (p) => ({
    id: p.string().primary().length(40),
    billingAccountId: p.string().length(40).index(),
    currency: p.string().length(3),
    paymentMode: p.string().length(10),
    creditLimit: p.decimal('string').precision(20).scale(6).nullable(),
    overdraftLimit: p.decimal('string').precision(20).scale(6),
    lowBalanceThreshold: p.decimal('string').precision(20).scale(6).nullable(),
    createdAt: p.datetime(),
    /** OPEN, or CLOSED with its billing account (closedAt: the account's). */
    status: p.string().length(10).default('OPEN'),
    closedAt: p.datetime().nullable(),
    closedReason: p.text().nullable(),
    /** closedAt + the late-usage grace: from then on the balance is final (no late usage charged). */
    finalAt: p.datetime().nullable(),
    /** When wallet.settled was emitted with the final balance (the jobs' first pass at or after finalAt). */
    settledAt: p.datetime().nullable(),
  }),
});
export type Wallet = InferEntity<typeof Wallet>;

export const entities = [Wallet];
