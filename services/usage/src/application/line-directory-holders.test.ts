/**
 * A late event named by a number given to another line since belongs to the line that held the
 * number at the event's time (msisdn_assignment). The directory's caches are bounded and turn their
 * generations on their own: when the number's holders have been pushed out while the lines are still
 * cached, the directory must say it does not know (the batch loads the number again), not fall back
 * to the line holding the number now (review 15: the event was rated and charged to the new holder).
 * The database is a stand-in answering the directory's reads (pure cache logic).
 */
import { describe, expect, it } from 'vitest';
import { LineDirectory } from './line-directory';

const jan = new Date('2026-01-01T00:00:00Z');
const assignments = [
  { msisdn: 'M', assigned_at: jan, line_id: 'A' },
  { msisdn: 'M', assigned_at: new Date('2026-06-01T00:00:00Z'), line_id: 'B' },
];
const lines = [
  { line_id: 'A', msisdn: null as string | null, billing_account_id: 'accA', status: 'ACTIVE' },
  { line_id: 'B', msisdn: 'M', billing_account_id: 'accB', status: 'ACTIVE' },
];
for (const n of ['N1', 'N2', 'N3', 'X1', 'P1', 'P2', 'P3', 'P4', 'P5']) {
  assignments.push({ msisdn: n, assigned_at: jan, line_id: `L${n}` });
  lines.push({ line_id: `L${n}`, msisdn: n, billing_account_id: `acc${n}`, status: 'ACTIVE' });
}
const sql = {
  async query(text: string, params: unknown[]) {
    if (text.includes('from msisdn_assignment')) return { rows: assignments.filter((a) => (params[0] as string[]).includes(a.msisdn)) };
    if (text.startsWith('select l.line_id, l.msisdn')) {
      const [ids, numbers] = params as [string[], string[]];
      return { rows: lines.filter((l) => ids.includes(l.line_id) || (l.msisdn !== null && numbers.includes(l.msisdn))) };
    }
    return { rows: [] };
  },
} as never;

describe('a number given to another line, in a bounded directory', () => {
  it('never answers a late event with the number\'s holder now once the holders of the number were pushed out', async () => {
    const march = new Date('2026-03-01T00:00:00Z');
    const directory = new LineDirectory(sql, 8);
    // Earlier lookups: numbers, and a line by its id (the caches of lines and of holders fill at other paces).
    await directory.prefetch([], ['N1', 'N2', 'N3']);
    await directory.prefetch(['LX1'], []);
    await directory.prefetch([], ['M']);
    expect(directory.get(undefined, 'M', march)?.lineId).toBe('A');
    // Later batches look their numbers up meanwhile: M's holders go, its lines may stay.
    for (const n of ['P1', 'P2', 'P3', 'P4', 'P5']) await directory.prefetch([], [n]);
    expect(directory.get(undefined, 'M', march)?.lineId).not.toBe('B');
    // Loaded again, it is the line that held the number in March.
    await directory.prefetch([], ['M']);
    expect(directory.get(undefined, 'M', march)?.lineId).toBe('A');
  });
});
