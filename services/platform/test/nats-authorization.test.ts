import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { BILLING_STREAM, EVENTS, RPC, USAGE_INGEST_PARTITIONS, usageIngestSubject, WORK_SUBJECTS } from '@ledgerline/contracts';
import { consumerFilters } from '../../events-hub/src/domain/query';
import { NOTIFYING_EVENTS } from '../../subscribers/src/events/notification-consumer';
import { CONSUMERS as INVOICING_CONSUMERS } from '../../invoicing/src/events/consumer';
import { connectMessaging, startPrivateNats, type Messaging } from '../src';

// The shipped production authorization (deploy/nats/authorization.conf) on a real nats-server of
// its own: who may publish, answer, request and read what. Passwords come from the environment.
const CONFIG = path.resolve(import.meta.dirname, '..', '..', '..', 'deploy', 'nats', 'authorization.conf');
const USERS = ['catalog', 'subscribers', 'usage', 'wallets', 'invoicing', 'events-hub', 'worker', 'network', 'partner'] as const;
type User = (typeof USERS)[number];
const password = Object.fromEntries(USERS.map((u) => [u, `${u}-${randomBytes(12).toString('hex')}`])) as Record<User, string>;
const envName = (u: User) => `NATS_${u.toUpperCase().replace(/-/g, '_')}_PASSWORD`;

let nats: Awaited<ReturnType<typeof startPrivateNats>>;
const opened: NatsConnection[] = [];
const messaging: Messaging[] = [];
const hostPort = () => nats.url.replace(/^nats:\/\//, '');

async function as(user: User, options: { inboxPrefix?: string } = {}): Promise<NatsConnection> {
  const nc = await connect({ servers: nats.url, user, pass: password[user], timeout: 3000, ...options });
  opened.push(nc);
  return nc;
}

/** null when a JetStream publish was stored, else the error it drew (the server's permission violation). */
async function publishDenied(nc: NatsConnection, subject: string): Promise<string | null> {
  const js = jetstream(nc, { timeout: 1500 });
  try {
    await js.publish(subject, '{}');
    return null;
  } catch (error) {
    return `${(error as Error).message} ${String((error as Error).cause ?? '')}`;
  }
}
const DENIED = /Permissions Violation/i;

async function streamMessages(subject: string): Promise<number> {
  const jsm = await jetstreamManager(await as('usage'));
  const info = await jsm.streams.info(BILLING_STREAM.name, { subjects_filter: subject });
  return Object.values(info.state.subjects ?? {}).reduce((a, b) => a + b, 0);
}

/** The partner's durables as the config spells them: `partner_<area>` bound to a filter. */
function partnerDurables(): { durable: string; filter: string }[] {
  const text = fs.readFileSync(CONFIG, 'utf8');
  return [...text.matchAll(/"\$JS\.API\.CONSUMER\.CREATE\.BILLING\.(partner_\w+)\.(billing\.[^"]+)"/g)].map((m) => ({ durable: m[1], filter: m[2] }));
}

function matches(filter: string, subject: string): boolean {
  const f = filter.split('.');
  const s = subject.split('.');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '>') return s.length > i;
    if (i >= s.length || (f[i] !== '*' && f[i] !== s[i])) return false;
  }
  return f.length === s.length;
}

beforeAll(async () => {
  nats = await startPrivateNats(undefined, { config: CONFIG, env: { ...process.env, ...Object.fromEntries(USERS.map((u) => [envName(u), password[u]])) } });
});

afterAll(async () => {
  for (const m of messaging) await m.nc.close().catch(() => undefined);
  for (const nc of opened) await nc.close().catch(() => undefined);
  await nats?.stop();
});

describe('production NATS authorization (deploy/nats/authorization.conf)', () => {
  it('refuses a wrong password and a client without credentials', async () => {
    await expect(connect({ servers: nats.url, user: 'usage', pass: 'not-the-password', timeout: 3000, reconnect: false })).rejects.toThrow(/Authorization Violation/i);
    await expect(connect({ servers: nats.url, timeout: 3000, reconnect: false })).rejects.toThrow(/Authorization Violation/i);
    // The platform's connect names NATS_URL but never prints the password it was given.
    const refused = await connectMessaging(`nats://usage:wrong-${password.usage}@${hostPort()}`, 'refused').then(
      () => null,
      (e: Error) => e,
    );
    expect(refused?.message).toMatch(/NATS_URL/);
    expect(refused?.message).not.toContain(password.usage);
  });

  it('a service connects with NATS_URL=nats://usage:$PASS@host (the platform connect), creates the BILLING stream and its durable', async () => {
    const usage = await connectMessaging(`nats://usage:${encodeURIComponent(password.usage)}@${hostPort()}`, 'ledgerline-usage');
    messaging.push(usage);
    expect((await usage.jsm.streams.info(BILLING_STREAM.name)).config.subjects).toEqual([...BILLING_STREAM.subjects]);
    await usage.jsm.consumers.add(BILLING_STREAM.name, { durable_name: 'usage-ingest', filter_subject: 'billing.usage.ingest.>', ack_policy: AckPolicy.Explicit });
    expect((await (await usage.js.consumers.get(BILLING_STREAM.name, 'usage-ingest')).info()).config.filter_subject).toBe('billing.usage.ingest.>');
  });

  it('usage publishes billing.usage.> events but not billing.subscribers.> (no forged billing account)', async () => {
    const usage = await as('usage');
    expect(await publishDenied(usage, EVENTS.usageReceived.subject)).toBeNull();
    expect(await publishDenied(usage, WORK_SUBJECTS.chargeRequested)).toBeNull();
    expect(await publishDenied(usage, EVENTS.billingAccountCreated.subject)).toMatch(DENIED);
    expect(await streamMessages(EVENTS.billingAccountCreated.subject)).toBe(0);
    expect(await streamMessages(EVENTS.usageReceived.subject)).toBe(1);
  });

  it('the network user requests ocs.usage.session (usage answers) and sends CDRs, but publishes no event', async () => {
    const usage = await as('usage');
    const responder = usage.subscribe(RPC.chargingSession, { queue: 'usage', callback: (_err, msg) => void msg.respond(JSON.stringify({ resultCode: 'SUCCESS' })) });
    await usage.flush();
    const network = await as('network', { inboxPrefix: '_INBOX_network' });
    expect((await network.request(RPC.chargingSession, '{}', { timeout: 2000 })).json()).toEqual({ resultCode: 'SUCCESS' });
    expect(await publishDenied(network, usageIngestSubject(USAGE_INGEST_PARTITIONS - 1))).toBeNull();
    expect(await publishDenied(network, EVENTS.usageReceived.subject)).toMatch(DENIED);
    expect(await publishDenied(network, EVENTS.billingAccountCreated.subject)).toMatch(DENIED);
    await expect(network.request(RPC.walletReserve, '{}', { timeout: 1500 })).rejects.toThrow(/Permissions Violation/i);
    responder.unsubscribe();
  });

  it('usage asks wallets for a reservation and only wallets may answer it', async () => {
    const wallets = await as('wallets');
    const answering = wallets.subscribe(RPC.walletReserve, { queue: 'wallets', callback: (_err, msg) => void msg.respond(JSON.stringify({ reservationId: 'r1' })) });
    await wallets.flush();
    expect((await (await as('usage')).request(RPC.walletReserve, '{}', { timeout: 2000 })).json()).toEqual({ reservationId: 'r1' });
    answering.unsubscribe();
  });

  it('a partner reads events through its own durable, and cannot publish, answer or request ocs.*, or read what is not an event', async () => {
    const subscribers = await as('subscribers');
    expect(await publishDenied(subscribers, EVENTS.customerCreated.subject)).toBeNull();

    const partner = await as('partner', { inboxPrefix: '_INBOX_partner' });
    const jsm = await jetstreamManager(partner);
    await jsm.consumers.add(BILLING_STREAM.name, { durable_name: 'partner_subscribers', filter_subject: 'billing.subscribers.>', ack_policy: AckPolicy.Explicit });
    const consumer = await jetstream(partner).consumers.get(BILLING_STREAM.name, 'partner_subscribers');
    const read: string[] = [];
    for await (const m of await consumer.fetch({ max_messages: 1, expires: 2000 })) {
      read.push(m.subject);
      await m.ackAck();
    }
    expect(read).toEqual([EVENTS.customerCreated.subject]);

    // No forged events.
    expect(await publishDenied(partner, EVENTS.billingAccountCreated.subject)).toMatch(DENIED);
    expect(await streamMessages(EVENTS.billingAccountCreated.subject)).toBe(0);
    // No online charging: neither answering nor asking.
    const answer = partner.subscribe(RPC.walletReserve, { queue: 'wallets' });
    expect(String(await answer.closed)).toMatch(DENIED);
    await expect(partner.request(RPC.walletReserve, '{}', { timeout: 1500 })).rejects.toThrow(/Permissions Violation/i);
    // Not the others' inboxes (what services pull, OCS replies), not a work subject, not a service's durable.
    const inboxes = partner.subscribe('_INBOX.>');
    expect(String(await inboxes.closed)).toMatch(DENIED);
    await expect(jsm.consumers.add(BILLING_STREAM.name, { durable_name: 'partner_usage_record', filter_subject: 'billing.usage.ingest.>', ack_policy: AckPolicy.Explicit })).rejects.toThrow(DENIED);
    await expect(jsm.consumers.add(BILLING_STREAM.name, { durable_name: 'usage-ingest', filter_subject: 'billing.usage.record.*', ack_policy: AckPolicy.Explicit })).rejects.toThrow(DENIED);
    await expect(partner.request(`$JS.API.CONSUMER.CREATE.BILLING.partner_catalog.billing.catalog.>`, JSON.stringify({ stream_name: 'BILLING', config: { durable_name: 'partner_catalog', filter_subject: WORK_SUBJECTS.chargeRequested, ack_policy: 'explicit' } }), { timeout: 2000 }).then((m) => m.string())).resolves.toMatch(/did not match filtered subject/);
    await expect(partner.request(`$JS.API.CONSUMER.MSG.NEXT.BILLING.usage-ingest`, '{"batch":1}', { timeout: 1500 })).rejects.toThrow(/Permissions Violation/i);
  });

  it("the events hub's durables in the config are the ones it creates (one per filter of its registry), so a new event area cannot stop it in production", () => {
    const text = fs.readFileSync(CONFIG, 'utf8');
    const configured = [...text.matchAll(/"\$JS\.API\.CONSUMER\.CREATE\.BILLING\.events_hub_(webhooks_\w+)\.(billing\.[^"]+)"/g)].map((m) => `${m[1]} ${m[2]}`).sort();
    const created = consumerFilters().map((filter) => `webhooks_${filter.replace(/^billing\./, '').replace(/\.>$/, '').replace(/\.\*$/, '').replace(/\./g, '_')} ${filter}`).sort();
    expect(configured).toEqual(created);
    // Replays (throw-away consumers of any name) over the same areas: a partner's replay of an area left out is refused.
    const replays = [...text.matchAll(/"\$JS\.API\.CONSUMER\.CREATE\.BILLING\.\*\.(billing\.[^"]+)"/g)].map((m) => m[1]!).sort();
    expect(replays).toEqual(consumerFilters());
  });

  it("subscribers' notification durables in the config are the ones it creates (one per notifying event), so a new kind of customer message is not refused in production", () => {
    const configured = [...fs.readFileSync(CONFIG, 'utf8').matchAll(/"\$JS\.API\.CONSUMER\.CREATE\.BILLING\.(subscribers_notify_\w+)\.(billing\.[^"]+)"/g)].map((m) => `${m[1]} ${m[2]}`).sort();
    const created = Object.entries(NOTIFYING_EVENTS).map(([kind, e]) => `subscribers_notify_${kind} ${e.subject}`).sort();
    expect(configured).toEqual(created);
  });

  it("invoicing's durables in the config are the ones it creates (charges, subscribers, budgets, refused wallet charges), and each can be created", async () => {
    const configured = [...fs.readFileSync(CONFIG, 'utf8').matchAll(/"\$JS\.API\.CONSUMER\.CREATE\.BILLING\.(invoicing_\w+)\.(billing\.[^"]+)"/g)].map((m) => `${m[1]} ${m[2]}`).sort();
    const created = INVOICING_CONSUMERS.map((c) => `invoicing_${c.name} ${c.filter}`).sort();
    expect(configured).toEqual(created);
    expect(created).toContain(`invoicing_refused_charges ${EVENTS.chargeRefused.subject}`);
    const jsm = await jetstreamManager(await as('invoicing'));
    for (const c of INVOICING_CONSUMERS) {
      await jsm.consumers.add(BILLING_STREAM.name, { durable_name: `invoicing_${c.name}`, filter_subject: c.filter, ack_policy: AckPolicy.Explicit });
    }
  });

  it("the partner's durables cover every event subject and no work subject, and each can be created", async () => {
    const durables = partnerDurables();
    const work = [...Array.from({ length: USAGE_INGEST_PARTITIONS }, (_, p) => usageIngestSubject(p)), ...Object.values(WORK_SUBJECTS)];
    for (const e of Object.values(EVENTS)) expect(durables.some((d) => matches(d.filter, e.subject)), e.subject).toBe(true);
    for (const w of work) expect(durables.filter((d) => matches(d.filter, w)).map((d) => d.durable), w).toEqual([]);
    const jsm = await jetstreamManager(await as('partner', { inboxPrefix: '_INBOX_partner' }));
    for (const d of durables) {
      if (d.durable === 'partner_subscribers') continue;
      await jsm.consumers.add(BILLING_STREAM.name, { durable_name: d.durable, filter_subject: d.filter, ack_policy: AckPolicy.Explicit });
    }
  });
});
