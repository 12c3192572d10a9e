import { LockMode, UniqueConstraintViolationException } from '@mikro-orm/core';
import { conflict, newId } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
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
 * Every offer (code order), each row read fresh under a shared lock until the transaction ends
 * (PostgreSQL `select … for share`; SQLite: one writer, no lock). Publishing validates a plan against
 * the offers read so: an importOffer holding an offer's row lock (it checks the published versions
 * under it) is waited for and its document seen, and an import starting later waits for the publish
 * and then sees the new version. Imports take `for update`, so publishes do not wait for each other.
 */
export async function readOffersShared(em: Em): Promise<Offer[]> {
  const shared = em.getPlatform().constructor.name.startsWith('PostgreSql') ? { lockMode: LockMode.PESSIMISTIC_READ as const, refresh: true } : {};
  return em.find(Offer, {}, { orderBy: { code: 'asc' }, ...shared });
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
  return em.getPlatform().constructor.name.startsWith('PostgreSql') ? { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true } : {};
}

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
