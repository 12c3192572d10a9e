import { describe, expect, it } from 'vitest';
import { refuseEventIdCollisions } from './outbox';

describe('refuseEventIdCollisions', () => {
  it('lets one id on one subject through, within a write and against rows already queued', () => {
    expect(() => refuseEventIdCollisions([{ id: 'a', subject: 's.one' }, { id: 'a', subject: 's.one' }, { id: 'b', subject: 's.two' }], [{ id: 'a', subject: 's.one' }])).not.toThrow();
  });

  it('refuses one id on two subjects within a write, naming both', () => {
    expect(() => refuseEventIdCollisions([{ id: 'a', subject: 's.one' }, { id: 'b', subject: 's.one' }, { id: 'a', subject: 's.two' }])).toThrow(
      expect.objectContaining({ code: 'EVENT_ID_COLLISION', category: 'INTERNAL', details: { id: 'a', subject: 's.two', takenBy: 's.one' } }),
    );
  });

  it('refuses a row whose id a queued row of another subject holds', () => {
    expect(() => refuseEventIdCollisions([{ id: 'a', subject: 's.two' }], [{ id: 'a', subject: 's.one' }])).toThrow(/s\.two event would get id a, which a s\.one event already has/);
  });
});
