import { defineEntity, type InferEntity } from '@mikro-orm/core';

export const Plan = defineEntity({
  name: 'Plan',
  tableName: 'plan',
  properties: (p) => ({
    id: p.string().primary().length(40),
    code: p.string().length(80).unique(),
    name: p.string().length(200),
    status: p.string().length(16),
    paymentMode: p.string().length(16),
    currency: p.string().length(3),
    latestVersion: p.integer().default(0),
    retiredAt: p.datetime().nullable(),
    createdAt: p.datetime(),
  }),
});
export type Plan = InferEntity<typeof Plan>;

/** A draft (version null, editable) or a published version (immutable). */
export const PlanVersion = defineEntity({
  name: 'PlanVersion',
  tableName: 'plan_version',
  properties: (p) => ({
    id: p.string().primary().length(40),
    planId: p.string().length(40).index(),
    version: p.integer().nullable(),
    status: p.string().length(16),
    contentHash: p.string().length(64),
    document: p.text(),
    effectiveFrom: p.datetime().nullable(),
    publishedAt: p.datetime().nullable(),
    createdAt: p.datetime(),
    updatedAt: p.datetime(),
  }),
});
export type PlanVersion = InferEntity<typeof PlanVersion>;

export const PlanAudit = defineEntity({
  name: 'PlanAudit',
  tableName: 'plan_audit',
  properties: (p) => ({
    id: p.string().primary().length(40),
    planId: p.string().length(40).index(),
    planVersionId: p.string().length(40).nullable(),
    action: p.string().length(32),
    actor: p.string().length(200),
    actorRole: p.string().length(16),
    at: p.datetime(),
    diff: p.text(),
  }),
});
export type PlanAudit = InferEntity<typeof PlanAudit>;

export const Offer = defineEntity({
  name: 'Offer',
  tableName: 'offer',
  properties: (p) => ({
    code: p.string().primary().length(80),
    name: p.string().length(200),
    currency: p.string().length(3),
    price: p.decimal('string').precision(18).scale(6),
    document: p.text(),
    updatedAt: p.datetime(),
    /** ACTIVE (sold, offered) or RETIRED (retireOffer: neither; add-ons bought before run on). */
    status: p.string().length(16).default('ACTIVE'),
    retiredAt: p.datetime().nullable(),
    retiredReason: p.string().length(500).nullable(),
  }),
});
export type Offer = InferEntity<typeof Offer>;

/** Every change to an offer: imports (CREATED, UPDATED) and its retirement, who and what (an RFC 6902 patch). */
export const OfferAudit = defineEntity({
  name: 'OfferAudit',
  tableName: 'offer_audit',
  properties: (p) => ({
    id: p.string().primary().length(40),
    offerCode: p.string().length(80).index(),
    action: p.string().length(32),
    actor: p.string().length(200),
    actorRole: p.string().length(16),
    at: p.datetime(),
    diff: p.text(),
  }),
});
export type OfferAudit = InferEntity<typeof OfferAudit>;

export const entities = [Plan, PlanVersion, PlanAudit, Offer, OfferAudit];
