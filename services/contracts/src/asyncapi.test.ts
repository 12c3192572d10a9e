import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { asyncApiDocument } from './asyncapi';
import { EVENTS } from './subjects';

const file = path.resolve(import.meta.dirname, '..', '..', '..', 'docs', 'asyncapi.json');

describe('AsyncAPI document', () => {
  it('describes every event subject of the registry', () => {
    const doc = asyncApiDocument() as { channels: Record<string, { address: string }> };
    const addresses = Object.values(doc.channels).map((c) => c.address);
    for (const def of Object.values(EVENTS)) expect(addresses).toContain(def.subject);
  });

  it('is checked in and up to date (regenerate: npx tsx services/contracts/src/asyncapi.ts > docs/asyncapi.json)', () => {
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toEqual(asyncApiDocument());
  });
});
