// Review, 2026-11-29. (1) A WEEKEND time window 22:00 → 06:00 was matched against the day of the
// event's minute: Monday 02:00 (Sunday night) was not NIGHT and Saturday 01:00 (Friday night) was,
// so simulateRating (and the ledger, which rates through the same facts) gave a Sunday-night call
// the weekend-day discount and a Friday-night call the night discount. A night belongs to the day it
// started on. (2) A destination zone named HOME was accepted, though HOME is what the ledger and
// invoices call home usage without a called number; validatePlan reports it at its pointer and a
// plan with one is not published.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestService } from '@ledgerline/platform';
import { readJson, startCatalog } from './support';

const VALIDATE = 'query($d: JSON!) { validatePlan(document: $d) { valid problems { pointer code } } }';
const IMPORT = 'mutation($i: ImportPlanInput!) { importPlan(input: $i) { created version { id } } }';
const SIMULATE = 'query($i: SimulateRatingInput!) { simulateRating(input: $i) { records { recordId rulesFired charge } } }';

describe('catalog: a weekend night across midnight, and HOME as a destination zone', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startCatalog('2026-02-01T09:00:00Z');
  });
  afterAll(() => svc?.close());

  it('simulateRating gives Sunday night\'s call at Monday 02:00 the night discount, and Friday night\'s at Saturday 01:00 the weekend one', async () => {
    const doc = readJson('plans/postpaid-20gb.json');
    doc.code = 'POSTPAID_WEEKEND_NIGHTS';
    doc.timeBands.windows[0] = { band: 'NIGHT', days: ['WEEKEND'], from: '22:00', to: '06:00' };
    const imported = await svc.request(IMPORT, { i: { document: doc } });
    expect(imported.errors).toBeUndefined();
    // Calls to Japan (INTERNATIONAL) in Berlin time (CET, UTC+1): Monday 2 March 02:00, Saturday 28 February 01:00.
    const call = (id: string, occurredAt: string) => ({ id, usageType: 'VOICE', direction: 'OUTGOING', quantity: '60', occurredAt, calledNumber: '+81312345678' });
    const r = await svc.request(SIMULATE, { i: { planVersionId: imported.data.importPlan.version.id, records: [call('mon-0200', '2026-03-02T01:00:00Z'), call('sat-0100', '2026-02-28T00:00:00Z')] } });
    expect(r.errors).toBeUndefined();
    const [monday, saturday] = r.data.simulateRating.records;
    expect({ id: monday.recordId, night: monday.rulesFired.includes('night-international-discount'), weekend: monday.rulesFired.includes('weekend-holiday-international-discount') }).toEqual({ id: 'mon-0200', night: true, weekend: false });
    expect({ id: saturday.recordId, night: saturday.rulesFired.includes('night-international-discount'), weekend: saturday.rulesFired.includes('weekend-holiday-international-discount') }).toEqual({ id: 'sat-0100', night: false, weekend: true });
  });

  it('validatePlan reports a destination zone HOME at its pointer, and the plan is not published', async () => {
    const doc = readJson('plans/postpaid-20gb.json');
    doc.code = 'POSTPAID_HOME_DESTINATION';
    doc.zones.destinations.prefixes.push({ prefix: '+41', zone: 'HOME' });
    const at = `/zones/destinations/prefixes/${doc.zones.destinations.prefixes.length - 1}/zone`;
    const r = await svc.request(VALIDATE, { d: doc });
    expect(r.errors).toBeUndefined();
    expect(r.data.validatePlan).toEqual({ valid: false, problems: [{ pointer: at, code: 'RESERVED_ZONE_NAME' }] });
    const imported = await svc.request(IMPORT, { i: { document: doc } });
    expect(imported.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'PLAN_INVALID' });
    expect(imported.errors?.[0]?.message).toContain(at);
  });
});
