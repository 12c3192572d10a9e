import { badInput, decodeCursor, encodeCursor, pageSize, toConnection, type Caller, type PageArgs } from '@ledgerline/contracts';
import { USAGE_ENTITLEMENT_KINDS, type UsageEntitlementKind } from '../domain/partner-usage';
import { inSqlTransaction, type Sql } from '../persistence/sql';

/** The longest partner id usage keeps (as charging sessions take it: charging-session.ts MAX_PARTNER_ID). */
export const MAX_PARTNER_ID = 128;

export interface PartnerUsageEntitlement {
  partnerId: string;
  kind: UsageEntitlementKind;
  grantedBy: string;
  grantedAt: Date;
}

export interface PartnerUsageEntitlementChange {
  partnerId: string;
  kind: UsageEntitlementKind;
  previousKind: UsageEntitlementKind | null;
  changedBy: string;
  changedByRole: string;
  changedAt: Date;
}

interface EntitlementRow {
  partner_id: string;
  kind: UsageEntitlementKind;
  granted_by: string;
  granted_at: Date;
}

const toEntitlement = (r: EntitlementRow): PartnerUsageEntitlement => ({ partnerId: r.partner_id, kind: r.kind, grantedBy: r.granted_by, grantedAt: r.granted_at });

/** A partner id as usage keeps it (1-128 characters, no NUL), else BAD_USER_INPUT naming `field`. */
export function partnerIdProblem(partnerId: unknown): string | undefined {
  if (typeof partnerId !== 'string' || !partnerId.trim() || partnerId.length > MAX_PARTNER_ID || partnerId.includes('\u0000')) {
    return `partnerId names a partner as its PARTNER tokens do (1-${MAX_PARTNER_ID} characters, not blank, no NUL)`;
  }
  return undefined;
}

/**
 * Of these partners (senders in one batch of records), those limited to their own customers' lines: every one without
 * an ANY_LINE entitlement (no row is OWN_CUSTOMERS). Read when the batch is looked up, so a change applies to the
 * next batch, a reprocess included.
 */
export async function ownCustomersOnly(sql: Sql, partnerIds: Iterable<string>): Promise<Set<string>> {
  const ids = [...new Set(partnerIds)];
  const { rows } = await sql.query<{ partner_id: string }>(`select partner_id from partner_usage_entitlement where partner_id = any($1::text[]) and kind = 'ANY_LINE'`, [ids]);
  const any = new Set(rows.map((r) => r.partner_id));
  return new Set(ids.filter((id) => !any.has(id)));
}

/**
 * Staff (ADMIN) set a partner's usage entitlement: OWN_CUSTOMERS or ANY_LINE (a roaming or mediation feed). Who and
 * when are kept on the row and, per change, in partner_usage_entitlement_change (the audit trail). The kind the
 * partner's row has already changes nothing: answered as it stands, no audit row (OWN_CUSTOMERS for a partner with no
 * row, which is that by default, is recorded: who set it).
 * Applies to the partner's next batches of records and to reprocesses of its records from then on.
 */
export async function setPartnerUsageEntitlement(sql: Sql, input: { partnerId?: unknown; kind?: unknown }, caller: Caller, now: Date): Promise<PartnerUsageEntitlement> {
  const problem = partnerIdProblem(input?.partnerId);
  if (problem) throw badInput('input.partnerId', problem, 'PARTNER_ID_INVALID');
  if (!(USAGE_ENTITLEMENT_KINDS as readonly unknown[]).includes(input.kind)) throw badInput('input.kind', `kind must be one of ${USAGE_ENTITLEMENT_KINDS.join(', ')}`, 'ENTITLEMENT_KIND_INVALID');
  const partnerId = input.partnerId as string;
  const kind = input.kind as UsageEntitlementKind;
  return inSqlTransaction(sql, async (db) => {
    // One change at a time per partner (the audit's previous kind is the one replaced).
    await db.query('select pg_advisory_xact_lock(hashtext($1))', [`partner_usage_entitlement:${partnerId}`]);
    const { rows } = await db.query<EntitlementRow>('select partner_id, kind, granted_by, granted_at from partner_usage_entitlement where partner_id = $1', [partnerId]);
    const current = rows[0];
    // The same kind again: nothing changes. (The default asked for a partner with no row is recorded: who set it.)
    if (current?.kind === kind) return toEntitlement(current);
    const { rows: saved } = await db.query<EntitlementRow>(
      `insert into partner_usage_entitlement (partner_id, kind, granted_by, granted_at) values ($1, $2, $3, $4)
       on conflict (partner_id) do update set kind = excluded.kind, granted_by = excluded.granted_by, granted_at = excluded.granted_at
       returning partner_id, kind, granted_by, granted_at`,
      [partnerId, kind, caller.subject.slice(0, 200), now],
    );
    await db.query(
      'insert into partner_usage_entitlement_change (partner_id, kind, previous_kind, changed_by, changed_by_role, changed_at) values ($1, $2, $3, $4, $5, $6)',
      [partnerId, kind, current?.kind ?? null, caller.subject.slice(0, 200), caller.role, now],
    );
    return toEntitlement(saved[0]!);
  });
}

/** Staff read the entitlements staff have set (a partner with none is OWN_CUSTOMERS), by partner id; one partner's with `partnerId`. */
export async function listPartnerUsageEntitlements(sql: Sql, args: PageArgs & { partnerId?: string | null }) {
  const limit = pageSize(args);
  const params: unknown[] = [];
  const where: string[] = [];
  if (args.partnerId != null) where.push(`partner_id = $${params.push(args.partnerId)}`);
  const filter = where.length > 0 ? `where ${where.join(' and ')}` : '';
  const { rows: count } = await sql.query<{ n: string }>(`select count(*)::text as n from partner_usage_entitlement ${filter}`, params);
  let after: string | undefined;
  if (args.after) {
    after = decodeCursor(args.after);
    if (!after || encodeCursor(after) !== args.after) throw badInput('after', 'after is not a cursor of this list: pass an edge cursor or pageInfo.endCursor as it was given', 'CURSOR_INVALID');
    where.push(`partner_id > $${params.push(after)}`);
  }
  const { rows } = await sql.query<EntitlementRow>(
    `select partner_id, kind, granted_by, granted_at from partner_usage_entitlement ${where.length > 0 ? `where ${where.join(' and ')}` : ''} order by partner_id limit ${limit + 1}`,
    params,
  );
  return toConnection(rows.map(toEntitlement), limit, (e) => e.partnerId, Boolean(after), Number(count[0]?.n ?? 0));
}

/** Who changed these partners' entitlements, newest first (one statement for a page; grouped by partner by the caller). */
export async function entitlementChanges(sql: Sql, partnerIds: readonly string[]): Promise<PartnerUsageEntitlementChange[]> {
  const { rows } = await sql.query<{ partner_id: string; kind: UsageEntitlementKind; previous_kind: UsageEntitlementKind | null; changed_by: string; changed_by_role: string; changed_at: Date }>(
    'select partner_id, kind, previous_kind, changed_by, changed_by_role, changed_at from partner_usage_entitlement_change where partner_id = any($1::text[]) order by changed_at desc, id desc',
    [[...partnerIds]],
  );
  return rows.map((r) => ({ partnerId: r.partner_id, kind: r.kind, previousKind: r.previous_kind, changedBy: r.changed_by, changedByRole: r.changed_by_role, changedAt: r.changed_at }));
}
