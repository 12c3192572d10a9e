import type { Knex } from '@ledgerline/platform';
import type { Assignment, EventScope } from '../domain/visibility';

/** The tables that decide which partner sees which event (migration 20270131): plain SQL (knex), as store.ts. */

const asDate = (v: unknown) => (v instanceof Date ? v : new Date(String(v)));

/**
 * Row locks on accounts, for the hold and its release not to miss each other: whoever records an assignment takes
 * its account exclusively, whoever reads assignments (to deliver or hold) shared, until the end of the transaction.
 * So a held event is either seen by the release of the account's placement, or the intake sees the placement and
 * does not hold it. Taken in one statement, in one order (of the lock keys), so two transactions cannot deadlock.
 */
export async function lockAccounts(trx: Knex, shared: Iterable<string>, exclusive: Iterable<string>): Promise<void> {
  const modes = new Map<string, boolean>();
  for (const id of shared) modes.set(id, false);
  for (const id of exclusive) modes.set(id, true);
  if (!modes.size) return;
  await trx.raw(
    `select count(*) from (
       select case when x then pg_advisory_xact_lock(k)::text else pg_advisory_xact_lock_shared(k)::text end
         from (select hashtext(current_schema() || '.account_partner:' || id) as k, bool_or(x) as x
                 from unnest(?::text[], ?::boolean[]) as t(id, x) group by 1 order by 1) s) l`,
    [[...modes.keys()], [...modes.values()]],
  );
}

/** Records assignments (the same (account, version) read again adds nothing). */
export async function recordAssignments(trx: Knex, rows: { billingAccountId: string; assignment: Assignment }[], now: Date): Promise<void> {
  if (!rows.length) return;
  await trx('account_partner')
    .insert(rows.map((r) => ({ billing_account_id: r.billingAccountId, partner_version: r.assignment.version, partner_id: r.assignment.partnerId, since: r.assignment.since, recorded_at: now })))
    .onConflict(['billing_account_id', 'partner_version'])
    .ignore();
}

/** The assignments the hub has read for these accounts (an account it has none for is missing from the map). */
export async function assignmentsOf(trx: Knex, billingAccountIds: Iterable<string>): Promise<Map<string, Assignment[]>> {
  const ids = [...new Set(billingAccountIds)];
  const out = new Map<string, Assignment[]>();
  if (!ids.length) return out;
  const rows = await trx('account_partner').whereIn('billing_account_id', ids).select('billing_account_id', 'partner_version', 'partner_id', 'since');
  for (const r of rows as { billing_account_id: string; partner_version: number; partner_id: string | null; since: unknown }[]) {
    const list = out.get(r.billing_account_id) ?? [];
    list.push({ version: Number(r.partner_version), partnerId: r.partner_id, since: asDate(r.since) });
    out.set(r.billing_account_id, list);
  }
  return out;
}

/** Of these partners, those staff granted the event scope ALL. */
export async function partnersWithScopeAll(trx: Knex, partnerIds: Iterable<string>): Promise<Set<string>> {
  const ids = [...new Set(partnerIds)];
  if (!ids.length) return new Set();
  const rows = await trx('partner_event_scope').whereIn('partner_id', ids).andWhere({ scope: 'ALL' }).select('partner_id');
  return new Set((rows as { partner_id: string }[]).map((r) => r.partner_id));
}

export interface ScopeRow {
  partnerId: string;
  scope: EventScope;
  grantedBy: string | null;
  grantedAt: Date | null;
}

export interface ScopeChange {
  scope: EventScope;
  previousScope: EventScope | null;
  changedBy: string;
  changedByRole: string;
  changedAt: Date;
}

const scopeFrom = (r: any): ScopeRow => ({ partnerId: r.partner_id, scope: r.scope, grantedBy: r.granted_by, grantedAt: asDate(r.granted_at) });

export async function findScope(knex: Knex, partnerId: string): Promise<ScopeRow | null> {
  const row = await knex('partner_event_scope').where({ partner_id: partnerId }).first();
  return row ? scopeFrom(row) : null;
}

export async function listScopes(knex: Knex): Promise<ScopeRow[]> {
  return ((await knex('partner_event_scope').orderBy('partner_id')) as any[]).map(scopeFrom);
}

export async function scopeChanges(knex: Knex, partnerId: string): Promise<ScopeChange[]> {
  const rows = await knex('partner_event_scope_change')
    .where({ partner_id: partnerId })
    .orderBy([
      { column: 'changed_at', order: 'desc' },
      { column: 'id', order: 'desc' },
    ]);
  return (rows as any[]).map((r) => ({ scope: r.scope, previousScope: r.previous_scope, changedBy: r.changed_by, changedByRole: r.changed_by_role, changedAt: asDate(r.changed_at) }));
}

/**
 * Sets a partner's scope and records the change (who, as what role, when, from what), under an advisory lock per
 * partner so the audit's previous scope is the one replaced. The scope it has already changes nothing (no audit row);
 * OWN_CUSTOMERS for a partner without a row is recorded (who set it).
 */
export async function storeScope(knex: Knex, partnerId: string, scope: EventScope, by: { subject: string; role: string }, now: Date): Promise<ScopeRow> {
  return knex.transaction(async (trx) => {
    await trx.raw(`select pg_advisory_xact_lock(hashtext(current_schema() || '.partner_event_scope:' || ?))`, [partnerId]);
    const current = await findScope(trx, partnerId);
    if (current?.scope === scope) return current;
    const [row] = await trx('partner_event_scope')
      .insert({ partner_id: partnerId, scope, granted_by: by.subject.slice(0, 200), granted_at: now })
      .onConflict('partner_id')
      .merge()
      .returning('*');
    await trx('partner_event_scope_change').insert({ partner_id: partnerId, scope, previous_scope: current?.scope ?? null, changed_by: by.subject.slice(0, 200), changed_by_role: by.role.slice(0, 16), changed_at: now });
    return scopeFrom(row);
  });
}

export interface HeldEvent {
  id: string;
  eventId: string;
  generation: number;
  onlyHub: string;
  subject: string;
  eventType: string;
  payload: string;
  billingAccountId: string;
  eventTime: Date;
  /** When it began to wait for its account: EVENTS_HUB_UNPLACED_HOLD_HOURS count from here. */
  heldAt: Date;
  /** When the hub read it: it goes to the hubs registered by then (later than `heldAt` for a type learnt late). */
  readAt: Date;
}

export async function insertHeldEvents(trx: Knex, rows: Omit<HeldEvent, 'id'>[]): Promise<number> {
  if (!rows.length) return 0;
  let n = 0;
  for (let i = 0; i < rows.length; i += 500) {
    const inserted = await trx('held_event')
      .insert(
        rows.slice(i, i + 500).map((r) => ({
          event_id: r.eventId,
          generation: r.generation,
          only_hub: r.onlyHub,
          subject: r.subject,
          event_type: r.eventType,
          payload: r.payload,
          billing_account_id: r.billingAccountId,
          event_time: r.eventTime,
          held_at: r.heldAt,
          read_at: r.readAt,
        })),
      )
      .onConflict(['event_id', 'generation', 'only_hub'])
      .ignore()
      .returning('id');
    n += inserted.length;
  }
  return n;
}

const heldFrom = (r: any): HeldEvent => ({
  id: String(r.id),
  eventId: r.event_id,
  generation: Number(r.generation),
  onlyHub: r.only_hub,
  subject: r.subject,
  eventType: r.event_type,
  payload: r.payload,
  billingAccountId: r.billing_account_id,
  eventTime: asDate(r.event_time),
  heldAt: asDate(r.held_at),
  readAt: asDate(r.read_at ?? r.held_at),
});

/**
 * Held events, row-locked (SKIP LOCKED: another replica releasing them takes others): of these accounts, or (none
 * given) of any account the hub has placed since, at most `limit`.
 */
export async function lockHeldEvents(trx: Knex, billingAccountIds: string[] | undefined, limit: number): Promise<HeldEvent[]> {
  const q = trx('held_event as h').select('h.*').orderBy('h.id').limit(limit).forUpdate().skipLocked();
  if (billingAccountIds) q.whereIn('h.billing_account_id', billingAccountIds);
  else q.whereExists(trx('account_partner as p').select(trx.raw('1')).whereRaw('p.billing_account_id = h.billing_account_id'));
  return ((await q) as any[]).map(heldFrom);
}

export async function deleteHeldEvents(trx: Knex, ids: string[]): Promise<void> {
  if (ids.length) await trx('held_event').whereIn('id', ids).delete();
}

/** Drops up to `limit` events held since before `before` (their account never placed); returns how many. */
export async function dropHeldEventsBefore(knex: Knex, before: Date, limit: number): Promise<number> {
  const result = await knex.raw(`delete from held_event where id in (select id from held_event where held_at < ? order by id limit ? for update skip locked)`, [before, limit]);
  return Number((result as { rowCount: number }).rowCount ?? 0);
}

export async function countHeldEvents(knex: Knex): Promise<number> {
  const [{ n }] = (await knex('held_event').count({ n: '*' })) as { n: string | number }[];
  return Number(n);
}
