import { defineEntity, type InferEntity } from '@mikro-orm/core';

/** charge_outcome's column, else usage_record's (alias `a`). */
const outcomeOr = (t: { alias: string }, outcome: string, own: string) => `coalesce((select o.${outcome} from charge_outcome o where o.usage_record_id = ${t.alias}.id), ${t.alias}.${own})`;

/** Read side of usage records (the hot path writes them with multi-row SQL, see usage-pipeline.ts). */
export const UsageRecord = defineEntity({
  name: 'UsageRecord',
  tableName: 'usage_record',
  properties: (p) => ({
    id: p.string().primary().length(40),
    source: p.string().length(64),
    eventId: p.string().length(128),
    lineId: p.string().length(40).nullable(),
    msisdn: p.string().length(32).nullable(),
    billingAccountId: p.string().length(40).nullable(),
    subscriptionId: p.string().length(40).nullable(),
    planVersionId: p.string().length(40).nullable(),
    usageType: p.string().length(16).nullable(),
    direction: p.string().length(16).nullable(),
    quantity: p.decimal('string').precision(20).scale(6).nullable(),
    unit: p.string().length(16).nullable(),
    occurredAt: p.datetime().nullable(),
    calledNumber: p.string().length(40).nullable(),
    roamingCountry: p.string().length(2).nullable(),
    visitedMcc: p.string().length(3).nullable(),
    status: p.string().length(16),
    rejectionCode: p.string().length(64).nullable(),
    rejectionReason: p.text().nullable(),
    decision: p.string().length(16).nullable(),
    allowanceId: p.string().length(64).nullable(),
    chargedUnits: p.decimal('string').precision(20).scale(6).nullable(),
    price: p.decimal('string').precision(20).scale(6).nullable(),
    fromAllowance: p.decimal('string').precision(20).scale(6).nullable(),
    spend: p.decimal('string').precision(20).scale(6).nullable(),
    currency: p.string().length(3).nullable(),
    // The rating trace as JSON text (see the migration).
    rating: p.text().nullable(),
    // A ChargeResult's outcome is a charge_outcome row, not an update of this row (migration
    // …215000000_charge_outcomes): read through it, with the record's own columns where there is none
    // (see CHARGE_STATUS_OF in sql.ts). Read-only: nothing writes records through the ORM.
    chargeStatus: p.string().formula((a) => outcomeOr(a, 'outcome', 'charge_status')),
    amountCharged: p.decimal('string').formula((a) => outcomeOr(a, 'amount_charged', 'amount_charged')).nullable(),
    unitsFromAllowances: p.decimal('string').formula((a) => outcomeOr(a, 'units_from_allowances', 'units_from_allowances')).nullable(),
    chargeReason: p.string().formula((a) => outcomeOr(a, 'reason', 'charge_reason')).nullable(),
    // A prepaid session's units past its grant: what the balance could not pay (charging-session.ts, chargePastGrant).
    unpaidAmount: p.decimal('string').precision(20).scale(6).nullable(),
    // The ChargeRequest (JSON) this record is the outbox of; see usage-pipeline.ts and sweep-charges.ts.
    charge: p.text().nullable(),
    chargeSentAt: p.datetime().nullable(),
    chargeAttempts: p.integer(),
    zone: p.string().length(32).nullable(),
    adjustsInvoiceId: p.string().length(64).nullable(),
    ratingVersion: p.integer(),
    raw: p.text().nullable(),
    receivedAt: p.datetime(),
    ratedAt: p.datetime().nullable(),
  }),
});
export type UsageRecord = InferEntity<typeof UsageRecord>;

export const entities = [UsageRecord];
