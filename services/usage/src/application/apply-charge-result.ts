/**
 * A ChargeResult from wallets settles a rated record's charge: APPLIED / PARTIAL / DENIED, what
 * the ledger actually took from allowances and money. Live counters are corrected from the
 * rating-time estimate to the ledger's figures (live usage sums prefer them). Idempotent: only a
 * PENDING charge moves.
 */
import type { ChargeResult } from '@ledgerline/contracts';
import { monthPeriod } from '../domain/period';
import type { Sql } from '../persistence/sql';

export function parseChargeResult(text: string): ChargeResult | undefined {
  try {
    const value = JSON.parse(text) as Record<string, unknown>;
    const data = (value.specversion && value.data ? value.data : value) as ChargeResult;
    return typeof data.chargeId === 'string' && typeof data.outcome === 'string' ? data : undefined;
  } catch {
    return undefined;
  }
}

export async function applyChargeResult(sql: Sql, r: ChargeResult): Promise<{ lineId: string; period: string } | undefined> {
  const { rows } = await sql.query<{ line_id: string; occurred_at: Date }>(
    `update usage_record set charge_status = $2, amount_charged = $3, units_from_allowances = $4, charge_reason = $5
      where id = $1 and charge_status = 'PENDING'
      returning line_id, occurred_at`,
    [r.chargeId, r.outcome, r.outcome === 'DENIED' ? '0' : (r.amountCharged ?? '0'), r.outcome === 'DENIED' ? '0' : (r.unitsFromAllowances ?? '0'), r.reason ?? null],
  );
  const rec = rows[0];
  return rec ? { lineId: rec.line_id, period: monthPeriod(null, new Date(rec.occurred_at)).period } : undefined;
}
