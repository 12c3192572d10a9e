import { createHash } from 'node:crypto';
import { LockMode, UniqueConstraintViolationException } from '@mikro-orm/core';
import { conflict, newId } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import { allowanceIdsConsumed } from '../domain/offer-references';
import { Offer, Plan } from '../persistence/entities';
import type { PlanHeader } from './plan-documents';

/**
 * Every change to a plan (opening, editing and publishing a draft, retiring) first locks the plan
 * row until the transaction ends: PostgreSQL `select … for update`, read fresh from the database,
 * so the checks made under it (one open draft, the draft's status, the next version number) still
 * hold when the change is written. A second call for the same plan waits here, then sees what the
 * first wrote. SQLite runs one writer at a time (one connection) and needs no lock.
 */
export async function lockPlan(em: Em, where: { id: string } | { code: string }): Promise<Plan | null> {
  return em.findOne(Plan, where, lockedRead(em));
}

/** The same for an add-on offer: importing and retiring one lock its row first. */
export async function lockOffer(em: Em, code: string): Promise<Offer | null> {
  return em.findOne(Offer, { code }, lockedRead(em));
}

/**
 * Holds allowance ids until the transaction ends, so that what an offer import checks and what a
 * publish validates cannot pass each other: a transaction advisory lock per id (PostgreSQL; SQLite has
 * one writer). importOffer takes the ids the offer granted or grants `exclusive`, after its offer row
 * lock, before it reads the other offers and the published versions; publishing takes the ids its
 * `rate` rules consume `shared` (publishes do not wait for each other), before it reads the offers.
 * Row locks did not cover it: two imports of DIFFERENT offers granting one id each checked against the
 * other's old document, and a NEW offer's row is not visible to a publish until it commits, so a
 * publish read `for share` waited for nothing. An id resolves through the offers granting it and no
 * other, so the second caller of a pair sharing an id waits for the first's commit and sees its result.
 * Keys are taken in ascending order (of the keys themselves: two ids sharing a key are one lock), and
 * no one waits for a row lock while holding one of them, so these waits cannot form a cycle.
 */
export async function lockAllowances(em: Em, ids: readonly string[], mode: 'exclusive' | 'shared'): Promise<void> {
  if (!isPostgres(em)) return;
  const keys = [...new Set(ids.map(allowanceLockKey))].sort((a, b) => a - b);
  const lock = mode === 'shared' ? 'pg_advisory_xact_lock_shared' : 'pg_advisory_xact_lock';
  for (const key of keys) await em.execute(em.getKnex().raw(`select ${lock}(hashtext('catalog.allowance'), ?)`, [key]));
}

/** The second key of an allowance id's advisory lock: 32 bits of its SHA-256 (the same in every process). */
const allowanceLockKey = (id: string): number => createHash('sha256').update(id).digest().readInt32BE(0);

/**
 * The offers a plan document is validated against when it is published (code order), read after its
 * consumed allowance ids are locked shared (lockAllowances): an import changing who grants one of them
 * is waited for and its document seen, and one starting later waits for the publish and sees its
 * version. Read fresh (a statement after the lock sees what committed before it).
 */
export async function readOffersForPublish(em: Em, document: unknown): Promise<Offer[]> {
  await lockAllowances(em, allowanceIdsConsumed(document), 'shared');
  return em.find(Offer, {}, { orderBy: { code: 'asc' }, refresh: true });
}

/** What a new offer row is made of (importOffer). */
export interface NewOffer {
  code: string;
  name: string;
  currency: string;
  price: string;
  document: string;
}

/**
 * The offer with this code, locked; inserted from `fresh` when there is none (`created: true`). As for
 * plans (lockOrCreatePlan): two first imports of one new offer at once do not collide on its code; the
 * second's insert waits for the first's transaction, inserts nothing, and it reads the first's row.
 */
export async function lockOrCreateOffer(em: Em, fresh: NewOffer, now: Date): Promise<{ offer: Offer; created: boolean }> {
  const existing = await lockOffer(em, fresh.code);
  if (existing) return { offer: existing, created: false };
  const inserted: unknown[] = await em.execute(
    em.getKnex()('offer')
      .insert({ ...fresh, updated_at: now, status: 'ACTIVE', retired_at: null, retired_reason: null })
      .onConflict('code')
      .ignore()
      .returning('code'),
  );
  const offer = await lockOffer(em, fresh.code);
  if (!offer) throw new Error(`offer ${fresh.code} was neither inserted nor found`);
  return { offer, created: inserted.length > 0 };
}

/** Find options of a locked, fresh read: `for update` on PostgreSQL, nothing on SQLite (one writer at a time). */
function lockedRead(em: Em): { lockMode?: LockMode.PESSIMISTIC_WRITE; refresh?: boolean } {
  return isPostgres(em) ? { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true } : {};
}

const isPostgres = (em: Em): boolean => em.getPlatform().constructor.name.startsWith('PostgreSql');

/**
 * The plan with this code, locked; created (status DRAFT, no versions) when there is none. Two
 * callers creating the same new plan at once do not collide on the unique code: the second's
 * insert (`on conflict (code) do nothing`) waits for the first's transaction, then inserts nothing,
 * and the second locks and reads the plan the first wrote (`created: false`).
 */
export async function lockOrCreatePlan(em: Em, header: PlanHeader, now: Date): Promise<{ plan: Plan; created: boolean }> {
  const existing = await lockPlan(em, { code: header.code });
  if (existing) return { plan: existing, created: false };
  const id = newId('plan');
  const knex = em.getKnex();
  await em.execute(
    knex('plan')
      .insert({ id, code: header.code, name: header.name, status: 'DRAFT', payment_mode: header.paymentMode, currency: header.currency, latest_version: 0, retired_at: null, created_at: now })
      .onConflict('code')
      .ignore(),
  );
  const plan = await lockPlan(em, { code: header.code });
  if (!plan) throw new Error(`plan ${header.code} was neither inserted nor found`);
  return { plan, created: plan.id === id };
}

/**
 * Flushes a new draft. One open draft per plan is checked under the plan's lock; the partial unique
 * index `plan_version_open_draft_unique` backs it (a draft that slips past the check anyway is the
 * same coded CONFLICT, not an internal error).
 */
export async function flushDraft(em: Em, code: string): Promise<void> {
  try {
    await em.flush();
  } catch (error) {
    if (error instanceof UniqueConstraintViolationException && /plan_version_open_draft_unique|plan_version\.plan_id/.test(`${(error as { constraint?: string }).constraint ?? ''} ${error.message}`)) {
      throw conflict('PLAN_DRAFT_ALREADY_OPEN', `Plan ${code} already has an open draft; update it instead`, { field: 'input.document.code' });
    }
    throw error;
  }
}
