import { deterministicId } from './ids';

/** CloudEvents 1.0, structured JSON mode. `id` is deterministic per state change. */
export interface CloudEvent<T = unknown> {
  specversion: '1.0';
  id: string;
  source: string;
  type: string;
  subject?: string;
  time: string;
  datacontenttype: 'application/json';
  data: T;
}

export interface NewCloudEvent<T> {
  source: string;
  type: string;
  subject?: string;
  time: Date;
  data: T;
  /** Parts that identify the state change, e.g. [invoiceId, 'SETTLED']; gives a stable id. */
  key: string[];
}

export function createCloudEvent<T>(e: NewCloudEvent<T>): CloudEvent<T> {
  return {
    specversion: '1.0',
    id: deterministicId('event', e.source, e.type, ...e.key),
    source: e.source,
    type: e.type,
    subject: e.subject,
    time: e.time.toISOString(),
    datacontenttype: 'application/json',
    data: e.data,
  };
}

export function parseCloudEvent(raw: string | Uint8Array): CloudEvent {
  const text = typeof raw === 'string' ? raw : new TextDecoder().decode(raw);
  const value = JSON.parse(text) as Partial<CloudEvent>;
  for (const field of ['specversion', 'id', 'source', 'type', 'time'] as const) {
    if (typeof value[field] !== 'string') throw new Error(`Not a CloudEvent: missing "${field}"`);
  }
  if (value.specversion !== '1.0') throw new Error(`Unsupported CloudEvents specversion ${value.specversion}`);
  return value as CloudEvent;
}
