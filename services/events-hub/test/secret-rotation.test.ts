import { createHmac, timingSafeEqual } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, HUB, publishPing, startHubForTest, startReceiver, until, type Received } from './support';

const PARTNER_A = { role: 'PARTNER' as const, partnerId: 'rotate-a' };
const PARTNER_B = { role: 'PARTNER' as const, partnerId: 'rotate-b' };
const ADMIN = { role: 'ADMIN' as const, subject: 'ops' };
const HOUR = 3_600_000;

let t: Awaited<ReturnType<typeof startHubForTest>>;
let receiver: Awaited<ReturnType<typeof startReceiver>>;

beforeAll(async () => {
  t = await startHubForTest(); // EVENTS_HUB_SECRET_OVERLAP_HOURS: the default, 24
  receiver = await startReceiver();
});

afterAll(async () => {
  await t?.close();
  await receiver?.close();
});

const sign = (secret: string, r: Received) => `sha256=${createHmac('sha256', secret).update(`${r.headers['x-ledgerline-timestamp']}.${r.body}`).digest('hex')}`;

/** The receiver's check as README.md documents it: any one of the listed signatures made with my secret. */
function verifies(secret: string, r: Received): boolean {
  const expected = Buffer.from(sign(secret, r));
  return String(r.headers['x-ledgerline-signature'] ?? '')
    .split(',')
    .map((s) => Buffer.from(s.trim()))
    .some((given) => given.length === expected.length && timingSafeEqual(given, expected));
}

async function deliveryOf(): Promise<Received> {
  const event = await publishPing(t.messaging);
  const [got] = await until('the delivery', () => (receiver.of(event.id).length ? receiver.of(event.id) : null));
  return got!;
}

describe('webhook secret rotation without downtime', () => {
  let hub: { id: string; secret: string };

  it('only the owning partner (or an admin) may rotate a hub secret; the new secret is in the answer only', async () => {
    hub = (await api(t.hub, 'POST', HUB, PARTNER_A, { callback: receiver.url, query: 'eventType=SystemPingEvent' })).body;
    const path = `${HUB}/${hub.id}/rotateSecret`;
    const stolen = await api(t.hub, 'POST', path, PARTNER_B);
    expect(stolen.status).toBe(404);
    expect(stolen.body).toMatchObject({ code: 'HUB_NOT_FOUND' });
    expect(JSON.stringify(stolen.body)).not.toContain(hub.secret);
    expect((await api(t.hub, 'POST', path, { role: 'CUSTOMER', customerId: 'cus_1' })).status).toBe(403);
    expect((await api(t.hub, 'POST', path, null)).status).toBe(401);
    expect((await api(t.hub, 'POST', `${HUB}/hub_nope/rotateSecret`, PARTNER_A)).status).toBe(404);
    // The refused attempts changed nothing.
    expect(verifies(hub.secret, await deliveryOf())).toBe(true);
  });

  let oldSecret: string;
  let newSecret: string;

  it('the new secret signs at once; for the overlap window deliveries carry both signatures (new first), after it only the new', async () => {
    oldSecret = hub.secret;
    const rotated = await api(t.hub, 'POST', `${HUB}/${hub.id}/rotateSecret`, PARTNER_A);
    expect(rotated.status).toBe(200);
    expect(rotated.body).toMatchObject({ id: hub.id, partnerId: 'rotate-a', secret: expect.any(String) });
    newSecret = rotated.body.secret;
    expect(newSecret).not.toBe(oldSecret);
    expect(new Date(rotated.body.previousSecretExpiresAt).getTime()).toBe(t.clock.now().getTime() + 24 * HOUR);
    expect(JSON.stringify(rotated.body)).not.toContain(oldSecret);
    // Reading the hub never shows a secret, old or new.
    const read = JSON.stringify([(await api(t.hub, 'GET', `${HUB}/${hub.id}`, PARTNER_A)).body, (await api(t.hub, 'GET', HUB, PARTNER_A)).body]);
    expect(read).not.toContain(newSecret);
    expect(read).not.toContain(oldSecret);
    expect((await api(t.hub, 'GET', `${HUB}/${hub.id}`, PARTNER_A)).body).toMatchObject({ previousSecretExpiresAt: rotated.body.previousSecretExpiresAt });

    const inside = await deliveryOf();
    expect(inside.headers['x-ledgerline-signature']).toBe(`${sign(newSecret, inside)}, ${sign(oldSecret, inside)}`);
    expect(verifies(oldSecret, inside)).toBe(true); // a receiver not switched yet keeps working
    expect(verifies(newSecret, inside)).toBe(true);

    t.clock.advance(24 * HOUR - 1000);
    const late = await deliveryOf();
    expect(verifies(oldSecret, late)).toBe(true);

    t.clock.advance(1000);
    const after = await deliveryOf();
    expect(after.headers['x-ledgerline-signature']).toBe(sign(newSecret, after));
    expect(verifies(oldSecret, after)).toBe(false);
    expect((await api(t.hub, 'GET', `${HUB}/${hub.id}`, PARTNER_A)).body).toMatchObject({ previousSecretExpiresAt: null });
  });

  it('an admin may rotate a partner hub; a rotation whose answer was lost and is repeated keeps the secret the receiver has', async () => {
    const first = await api(t.hub, 'POST', `${HUB}/${hub.id}/rotateSecret`, ADMIN);
    expect(first.status).toBe(200);
    const second = await api(t.hub, 'POST', `${HUB}/${hub.id}/rotateSecret`, PARTNER_A);
    expect(second.status).toBe(200);
    const got = await deliveryOf();
    // The partner only ever saw `newSecret` (the first answer was "lost"): still accepted, with both later ones.
    expect(got.headers['x-ledgerline-signature']).toBe(`${sign(second.body.secret, got)}, ${sign(first.body.secret, got)}, ${sign(newSecret, got)}`);
    expect(verifies(newSecret, got)).toBe(true);
  });
});
