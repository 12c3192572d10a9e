/**
 * `ledgerline catalog simulate` (and its `--compare`) handed a usage file's records to rating as written, without
 * usage's checks of a record's fields (rating's checkUsageFields, which usage's ingestion and catalog's simulateRating
 * apply): `roamingCountry: "fr"` was priced in the plan's default roaming zone where usage reads FR (EU), a
 * `usageType: "data"` or a quantity "05" stopped the whole run where usage takes them, and a `visitedMcc: "2080"` usage
 * rejects was priced. The records are now normalised as usage does; one usage would reject is listed with its record
 * number, id, field and reason, is not priced, and the run says how many were refused.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliRun } from './cli-process';

const cli = (...args: string[]) => runCli(args, process.env);

const data = (fields: Record<string, unknown>) => ({ id: 'd', msisdn: '+4915112345678', usageType: 'DATA', direction: 'OUTGOING', quantity: '3', occurredAt: '2026-03-03T10:00:00Z', ...fields });
const call = (fields: Record<string, unknown>) => ({ id: 'v', msisdn: '+4915112345678', usageType: 'VOICE', direction: 'OUTGOING', quantity: '60', occurredAt: '2026-03-03T11:00:00Z', calledNumber: '+4930123456', ...fields });

function usageFile(events: Record<string, unknown>[]): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'usage-'));
  const file = path.join(dir, 'usage.json');
  fs.writeFileSync(file, JSON.stringify({ subscriber: { accountType: 'PREPAID' }, events }));
  return file;
}

/** As written: lower case, padded, a leading zero, MO; the second record has a 4-digit MCC usage rejects. */
const asWritten = [
  data({ id: 'fr-data', usageType: 'data', roamingCountry: ' fr ' }),
  data({ id: 'bad-mcc', visitedMcc: '2080' }),
  call({ id: 'call', quantity: '060', direction: 'mo', roamingCountry: '' }),
];
/** What usage stores of them: the refused record left out. */
const asUsageHoldsThem = [
  data({ id: 'fr-data', roamingCountry: 'FR' }),
  call({ id: 'call', quantity: '60', direction: 'OUTGOING' }),
];

const plans = ['catalog/plans/prepaid-payg.json', '--compare', 'catalog/plans/prepaid-bundle-30d.json'];
let runs: Record<'written' | 'normalised', Promise<CliRun>>;
beforeAll(() => {
  runs = {
    written: cli('catalog', 'simulate', ...plans, '--usage', usageFile(asWritten)),
    normalised: cli('catalog', 'simulate', ...plans, '--usage', usageFile(asUsageHoldsThem)),
  };
});

/** The priced lines, the totals and the comparison: everything but the refusals. */
const priced = (stdout: string) => stdout.split('\n').filter((l) => !/refused|^ {2}record \d+/.test(l));

describe('ledgerline catalog simulate checks a usage file\'s records as usage does', () => {
  it('lists a record usage would reject with its number, id, field and reason, and does not price it', async () => {
    const r = await runs.written;
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('1 of 3 record(s) refused (usage would reject them; not priced):');
    expect(r.stdout).toContain('  record 2 (bad-mcc): visitedMcc: visitedMcc "2080" is not a 3-digit mobile country code [VISITED_MCC_INVALID]');
    expect(r.stdout).toMatch(/^PREPAID_PAYG: 2 records, /m);
    expect(r.stdout).not.toMatch(/^ {2}bad-mcc /m);
  });

  it('prices and compares the other records as usage holds them ("fr" as FR, "data", "060", "mo", "" as not roaming)', async () => {
    const [written, normalised] = await Promise.all([runs.written, runs.normalised]);
    expect(normalised.status).toBe(0);
    expect(normalised.stdout).not.toContain('refused');
    expect(priced(written.stdout)).toEqual(priced(normalised.stdout));
    expect(written.stdout).toMatch(/cheapest first:\n {2}\S+/);
  });
});
