/**
 * Online charging (Nchf-style): RESERVE rates the requested units on the line's plan and asks
 * wallets to hold them (allowances first, then money); UPDATE commits what was used and reserves
 * again; TERMINATE commits the last units and stores the session as one rated usage record,
 * already charged through the reservation (no ChargeRequest, so it is never charged twice).
 */
import { RPC, type ChargingResultCode, type WalletCommitRequest, type WalletReserveReply, type WalletReserveRequest, type WalletSessionReply } from '@ledgerline/contracts';
import { dec } from '@ledgerline/contracts';
import type { NatsConnection } from '@ledgerline/platform';
import { versionAt, activeAddOnsAt } from '../domain/subscriber';
import { validateUsage } from '../domain/usage-input';
import type { UsageRuntime } from '../usage-runtime';

export interface ChargingSessionRequest {
  operation: 'RESERVE' | 'UPDATE' | 'TERMINATE' | string;
  sessionId: string;
  lineId?: string | null;
  msisdn?: string | null;
  usageType?: string | null;
  requestedUnits?: string | null;
  usedUnits?: string | null;
  calledNumber?: string | null;
  roamingCountry?: string | null;
  visitedMcc?: string | null;
}

export interface ChargingSessionReply {
  sessionId: string;
  resultCode: ChargingResultCode;
  grantedUnit?: string | null;
  validityTime?: number | null;
  finalUnitIndication: boolean;
  usageRecordId?: string | null;
  message?: string;
}

interface SessionContext {
  lineId: string;
  msisdn: string | null;
  billingAccountId: string;
  usageType: string;
  unit: string;
  currency: string;
  pricePerUnit: string;
  allowanceIds: string[];
  allowOverdraft: boolean;
  reservationId: string | null;
  step: number;
  startedAt: string;
  event: Record<string, unknown>;
}

const SOURCE = 'ocs';

async function rpc<T>(nc: NatsConnection, subject: string, body: unknown): Promise<T> {
  const reply = await nc.request(subject, JSON.stringify(body), { timeout: 3000 });
  return reply.json<T>();
}

export async function handleChargingSession(usage: UsageRuntime, nc: NatsConnection, req: ChargingSessionRequest, now: Date): Promise<ChargingSessionReply> {
  const fail = (resultCode: ChargingResultCode, message: string): ChargingSessionReply => ({ sessionId: req?.sessionId ?? '', resultCode, finalUnitIndication: true, message });
  if (!req || typeof req.sessionId !== 'string' || !req.sessionId || req.sessionId.length > 128) return fail('RATING_FAILED', 'sessionId is required (at most 128 characters)');
  const op = String(req.operation ?? '').toUpperCase();
  const { rows } = await usage.sql.query<{ state: string; used: string; context: string }>('select state, used, context from charging_session where id = $1', [req.sessionId]);
  const existing = rows[0];

  if (op === 'RESERVE') {
    if (existing) return fail('RATING_FAILED', `session ${req.sessionId} already exists; use UPDATE or TERMINATE`);
    const probe = validateUsage({ eventId: `${req.sessionId}:probe`, lineId: req.lineId, msisdn: req.msisdn, usageType: req.usageType, quantity: req.requestedUnits, occurredAt: now.toISOString(), calledNumber: req.calledNumber, roamingCountry: req.roamingCountry, visitedMcc: req.visitedMcc }, { source: SOURCE }, now);
    if (!probe.ok) return fail('RATING_FAILED', `${probe.rejection.code}: ${probe.rejection.reason}`);
    const u = probe.usage;
    await usage.directory.prefetch(u.lineId ? [u.lineId] : [], u.msisdn && !u.lineId ? [u.msisdn] : []);
    const line = usage.directory.get(u.lineId, u.msisdn);
    const version = line ? versionAt(line, now) : undefined;
    if (!line || !version) return fail('USER_UNKNOWN', 'no line with an active subscription');
    const plan = await usage.plans.get(version.planVersionId);
    if (!plan.ok) return fail('RATING_FAILED', plan.reason);
    const event = { id: `${req.sessionId}:probe`, lineId: line.lineId, usageType: u.usageType, direction: u.direction, quantity: u.quantity, occurredAt: now.toISOString(), ...(u.calledNumber ? { calledNumber: u.calledNumber } : {}), ...(u.roamingCountry ? { roamingCountry: u.roamingCountry } : {}), ...(u.visitedMcc ? { visitedMcc: u.visitedMcc } : {}) };
    const lineStatus = (line.status === 'SUSPENDED' || line.status === 'BARRED' ? line.status : line.status === 'ACTIVE' ? 'ACTIVE' : 'BARRED') as 'ACTIVE' | 'SUSPENDED' | 'BARRED';
    const result = await plan.rater.rate(event, { accountType: version.paymentMode, lineStatus, lineCount: line.lineCount, activeAddOns: activeAddOnsAt(version, now) });
    if (result.decision === 'DENIED') return fail('END_USER_SERVICE_DENIED', result.denyReason ?? 'DENIED');
    const pricePerUnit = result.pricePerUnit ?? (dec(result.chargedUnits).isZero() ? '0' : dec(result.price).div(result.chargedUnits).toDecimalPlaces(10).toString());
    const ctx: SessionContext = {
      lineId: line.lineId, msisdn: line.msisdn, billingAccountId: version.billingAccountId, usageType: u.usageType, unit: result.unit ?? u.unit, currency: result.currency, pricePerUnit,
      allowanceIds: result.allowanceId ? [result.allowanceId] : [], allowOverdraft: version.paymentMode === 'POSTPAID' || Boolean(plan.rater.compiled.plan.balancePolicy?.overdraftAllowed),
      reservationId: null, step: 0, startedAt: now.toISOString(), event: { ...event, id: undefined, quantity: undefined },
    };
    const grant = await reserveUnits(nc, req.sessionId, ctx, result.chargedUnits);
    ctx.reservationId = grant.reservationId ?? null;
    await usage.sql.query(
      `insert into charging_session (id, line_id, billing_account_id, usage_type, state, granted, used, context, started_at, updated_at) values ($1,$2,$3,$4,'OPEN',$5,0,$6,$7,$7) on conflict (id) do nothing`,
      [req.sessionId, ctx.lineId, ctx.billingAccountId, ctx.usageType, grant.grantedUnit?.units ?? '0', JSON.stringify(ctx), now],
    );
    return replyOf(req.sessionId, grant);
  }

  if (op !== 'UPDATE' && op !== 'TERMINATE') return fail('RATING_FAILED', 'operation must be RESERVE, UPDATE or TERMINATE');
  if (!existing) return fail('RATING_FAILED', `no session ${req.sessionId}`);
  if (existing.state !== 'OPEN') return fail('RATING_FAILED', `session ${req.sessionId} is ${existing.state}`);
  const used = req.usedUnits ?? '0';
  if (!/^\d{1,12}(\.\d{1,6})?$/.test(used)) return fail('RATING_FAILED', 'usedUnits must be a non-negative decimal');
  const ctx = JSON.parse(existing.context) as SessionContext;
  if (ctx.reservationId) {
    const commit = await rpc<WalletSessionReply>(nc, RPC.walletCommit, { reservationId: ctx.reservationId, usedUnits: used } satisfies WalletCommitRequest);
    if (commit.resultCode !== 'SUCCESS') return fail(commit.resultCode, commit.error?.message ?? 'commit failed');
  }
  const totalUsed = dec(existing.used).plus(used).toString();
  if (op === 'UPDATE') {
    const requested = req.requestedUnits ?? '0';
    const grant = dec(requested).gt(0) ? await reserveUnits(nc, req.sessionId, ctx, requested) : ({ resultCode: 'SUCCESS' } as WalletReserveReply);
    ctx.reservationId = grant.reservationId ?? null;
    await usage.sql.query('update charging_session set used = $2, granted = $3, context = $4, updated_at = $5 where id = $1', [req.sessionId, totalUsed, grant.grantedUnit?.units ?? '0', JSON.stringify(ctx), now]);
    return replyOf(req.sessionId, grant);
  }
  // TERMINATE: the session becomes one usage record, charged already through the reservation.
  const [outcome] = await usage.pipeline.process(
    [{ raw: { ...ctx.event, source: SOURCE, eventId: req.sessionId, lineId: ctx.lineId, quantity: totalUsed, occurredAt: ctx.startedAt }, source: SOURCE }],
    { precharged: true },
  );
  await usage.sql.query("update charging_session set used = $2, state = 'CLOSED', context = $3, updated_at = $4 where id = $1", [req.sessionId, totalUsed, JSON.stringify({ ...ctx, reservationId: null }), now]);
  return { sessionId: req.sessionId, resultCode: 'SUCCESS', finalUnitIndication: true, usageRecordId: outcome.id };
}

async function reserveUnits(nc: NatsConnection, sessionId: string, ctx: SessionContext, units: string): Promise<WalletReserveReply> {
  ctx.step += 1;
  const request: WalletReserveRequest = {
    requestId: `${sessionId}:${ctx.step}`, sessionId, billingAccountId: ctx.billingAccountId, lineId: ctx.lineId, currency: ctx.currency, usageType: ctx.usageType,
    unit: ctx.unit, requestedUnits: units, pricePerUnit: ctx.pricePerUnit, allowanceIds: ctx.allowanceIds, allowOverdraft: ctx.allowOverdraft,
  };
  return rpc<WalletReserveReply>(nc, RPC.walletReserve, request);
}

function replyOf(sessionId: string, grant: WalletReserveReply): ChargingSessionReply {
  return {
    sessionId,
    resultCode: grant.resultCode,
    grantedUnit: grant.grantedUnit?.units ?? null,
    validityTime: grant.validityTime ?? null,
    finalUnitIndication: grant.resultCode !== 'SUCCESS' || Boolean(grant.finalUnitIndication),
    ...(grant.error ? { message: `${grant.error.code}: ${grant.error.message}` } : {}),
  };
}
