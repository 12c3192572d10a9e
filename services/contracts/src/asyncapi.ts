import { fileURLToPath } from 'node:url';
import { EVENTS, BILLING_STREAM, USAGE_INGEST_PARTITIONS, usageIngestSubject } from './subjects';
import { RPC, WORK_SUBJECTS } from './messages';

/**
 * The AsyncAPI 3.0 description of every subject partners and services use, generated from the
 * one registry so it cannot drift (`docs/asyncapi.json` is checked by a test).
 */
export function asyncApiDocument(): Record<string, unknown> {
  const cloudEvent = {
    type: 'object',
    required: ['specversion', 'id', 'source', 'type', 'time', 'data'],
    properties: {
      specversion: { const: '1.0' },
      id: { type: 'string', description: 'Deterministic per state change; equals the Nats-Msg-Id header.' },
      source: { type: 'string', examples: ['ledgerline/invoicing'] },
      type: { type: 'string', description: 'TM Forum event name' },
      subject: { type: 'string', description: 'Id of the entity the event is about' },
      time: { type: 'string', format: 'date-time' },
      datacontenttype: { const: 'application/json' },
      data: { type: 'object' },
    },
  };
  const channels: Record<string, unknown> = {};
  const operations: Record<string, unknown> = {};
  const messages: Record<string, unknown> = {};
  for (const [name, def] of Object.entries(EVENTS)) {
    messages[name] = { name: def.type, title: def.type, summary: def.description, contentType: 'application/cloudevents+json', payload: { ...cloudEvent, properties: { ...cloudEvent.properties, type: { const: def.type } } } };
    channels[name] = { address: def.subject, messages: { [name]: { $ref: `#/components/messages/${name}` } } };
    operations[`receive_${name}`] = { action: 'receive', channel: { $ref: `#/channels/${name}` }, summary: `Durable JetStream consumer on stream ${BILLING_STREAM.name}, filter ${def.subject}` };
  }
  const work = {
    [WORK_SUBJECTS.chargeRequested]: 'usage → wallets: a ChargeRequest (contracts/messages.ts); Nats-Msg-Id = chargeId.',
    [WORK_SUBJECTS.chargeApplied]: 'wallets → usage, invoicing: ChargeResults once the charges are in the ledger (a rated charge, or a committed online-charging reservation: chargeId = the reservation id); a message holds one result or a JSON array of them (the charge consumer publishes its batches so).',
    [usageIngestSubject(0).replace(/p0$/, 'p{partition}')]: `Usage records in, partitioned by subscriber (0..${USAGE_INGEST_PARTITIONS - 1}) so one subscriber's records stay ordered.`,
  };
  for (const [address, summary] of Object.entries(work)) {
    const key = address.replace(/[.{}]/g, '_');
    channels[key] = { address, description: summary, messages: { [key]: { payload: { type: 'object' } } } };
  }
  for (const [name, address] of Object.entries(RPC)) {
    channels[`rpc_${name}`] = { address, description: 'Core NATS request/reply (online charging), JSON request and reply.', messages: { [`rpc_${name}`]: { payload: { type: 'object' } } } };
    operations[`request_${name}`] = { action: 'send', channel: { $ref: `#/channels/rpc_${name}` }, reply: { channel: { $ref: `#/channels/rpc_${name}` } } };
  }
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'Ledgerline billing events',
      version: '0.1.0',
      description: `Every service writes events to a transactional outbox; a relay publishes them to the JetStream stream ${BILLING_STREAM.name} (subjects ${BILLING_STREAM.subjects.join(', ')}) as CloudEvents 1.0 structured JSON, at least once, de-duplicated by Nats-Msg-Id. Consumers must be idempotent.`,
    },
    defaultContentType: 'application/json',
    servers: { local: { host: '127.0.0.1:4222', protocol: 'nats', description: 'NATS with JetStream' } },
    channels,
    operations,
    components: { messages },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.stdout.write(`${JSON.stringify(asyncApiDocument(), null, 2)}\n`);
}
