import { describe, expect, it } from 'vitest';
import { DomainError } from '../errors';
import { GraphqlDisputesClient, InMemoryDisputes } from './disputes';

/** A fetch that answers each request with the next body (the last one repeats) and records them. */
function fakeFetch(...bodies: Array<{ status?: number; body: unknown }>) {
  const requests: Array<{ url: string; headers: Record<string, string>; query: string; variables: Record<string, unknown> }> = [];
  const impl = (async (url: string | URL | Request, init?: RequestInit) => {
    const sent = JSON.parse(String(init?.body)) as { query: string; variables: Record<string, unknown> };
    requests.push({ url: String(url), headers: init?.headers as Record<string, string>, ...sent });
    const answer = bodies[Math.min(requests.length, bodies.length) - 1]!;
    return new Response(JSON.stringify(answer.body), { status: answer.status ?? 200, headers: { 'content-type': 'application/json' } });
  }) as typeof fetch;
  return { impl, requests };
}

const dispute = (status: string, escalationLevel = 0) => ({ status, escalationLevel });
const alreadyDecided = { errors: [{ message: 'Dispute dsp_1 is already REJECTED', extensions: { code: 'CONFLICT', reason: 'DISPUTE_ALREADY_DECIDED' } }] };

describe('GraphqlDisputesClient', () => {
  it("calls the contract's mutations with inline inputs and the worker's token, and answers status and level", async () => {
    const { impl, requests } = fakeFetch(
      { body: { data: { assessDispute: { dispute: { ...dispute('IN_REVIEW'), reviewDueAt: '2026-12-03T10:00:00.000Z' } } } } },
      { body: { data: { escalateDispute: { dispute: dispute('IN_REVIEW', 1) } } } },
      { body: { data: { decideDispute: { dispute: dispute('ACCEPTED', 1) } } } },
      { body: { data: { dispute: dispute('ACCEPTED', 1) } } },
    );
    const client = new GraphqlDisputesClient({ url: 'http://gateway/graphql', headers: { authorization: 'Bearer svc' }, fetch: impl });

    // The deadline invoicing shows comes along (a restarted run keeps it).
    await expect(client.assess({ disputeId: 'dsp_1' })).resolves.toEqual({ status: 'IN_REVIEW', escalationLevel: 0, reviewDueAt: '2026-12-03T10:00:00.000Z' });
    await expect(client.escalate({ disputeId: 'dsp_1', level: 1 })).resolves.toEqual({ status: 'IN_REVIEW', escalationLevel: 1 });
    await expect(client.decide({ disputeId: 'dsp_1', decision: 'ACCEPT', note: 'deadline passed' })).resolves.toEqual({ status: 'ACCEPTED', escalationLevel: 1 });
    await expect(client.state({ disputeId: 'dsp_1' })).resolves.toEqual({ status: 'ACCEPTED', escalationLevel: 1 });

    expect(requests.map((r) => r.url)).toEqual(Array(4).fill('http://gateway/graphql'));
    expect(requests[0]!.headers.authorization).toBe('Bearer svc');
    expect(requests[0]!.query).toMatch(/assessDispute\(input: \{ disputeId: \$id \}\)/);
    expect(requests[1]!.query).toMatch(/escalateDispute\(input: \{ disputeId: \$id, level: \$level \}\)/);
    expect(requests[1]!.variables).toEqual({ id: 'dsp_1', level: 1 });
    expect(requests[2]!.query).toMatch(/decideDispute\(input: \{ disputeId: \$id, decision: \$decision, note: \$note \}\)/);
    expect(requests[2]!.variables).toEqual({ id: 'dsp_1', decision: 'ACCEPT', note: 'deadline passed' });
    expect(requests[3]!.query).toMatch(/dispute\(id: \$id\) \{ status escalationLevel reviewDueAt \}/);
  });

  it('a decision that lost the race (CONFLICT DISPUTE_ALREADY_DECIDED) reads the dispute and answers it, no failure', async () => {
    const { impl, requests } = fakeFetch({ body: alreadyDecided }, { body: { data: { dispute: dispute('REJECTED', 2) } } });
    const client = new GraphqlDisputesClient({ url: 'http://g', fetch: impl });
    await expect(client.decide({ disputeId: 'dsp_1', decision: 'ACCEPT', note: 'n' })).resolves.toEqual({ status: 'REJECTED', escalationLevel: 2 });
    expect(requests).toHaveLength(2);
    expect(requests[1]!.query).toMatch(/dispute\(id: \$id\)/);
  });

  it('any other refusal stays a non-retryable DomainError; an outage a plain (retried) error', async () => {
    const other = fakeFetch({ body: { errors: [{ message: 'amount too high', extensions: { code: 'BAD_USER_INPUT', reason: 'DISPUTE_AMOUNT_INVALID', field: 'input.amount' } }] } });
    const refused = await new GraphqlDisputesClient({ url: 'http://g', fetch: other.impl }).decide({ disputeId: 'dsp_1', decision: 'ACCEPT', note: 'n' }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(DomainError);
    expect(refused).toMatchObject({ code: 'BAD_USER_INPUT', retryable: false });

    // A CONFLICT for another reason is not "someone decided first".
    const conflict = fakeFetch({ body: { errors: [{ message: 'no', extensions: { code: 'CONFLICT', reason: 'DISPUTE_CLOSED' } }] } });
    await expect(new GraphqlDisputesClient({ url: 'http://g', fetch: conflict.impl }).escalate({ disputeId: 'dsp_1', level: 1 })).rejects.toMatchObject({ code: 'CONFLICT' });
    expect(conflict.requests).toHaveLength(1);

    const down = fakeFetch({ body: { errors: [{ message: '502', extensions: { code: 'DOWNSTREAM_SERVICE_ERROR' } }] } });
    const err = await new GraphqlDisputesClient({ url: 'http://g', fetch: down.impl }).assess({ disputeId: 'dsp_1' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(DomainError);
  });

  it('a dispute invoicing does not know is DISPUTE_NOT_FOUND', async () => {
    const { impl } = fakeFetch({ body: { data: { dispute: null } } });
    await expect(new GraphqlDisputesClient({ url: 'http://g', fetch: impl }).state({ disputeId: 'dsp_x' })).rejects.toMatchObject({ code: 'DISPUTE_NOT_FOUND', retryable: false });
  });
});

describe('InMemoryDisputes (the stand-in without the graph)', () => {
  it('follows the contract: assess once, escalate as a max on open disputes, a second decision refused for agents and answered for the workflow', async () => {
    const store = new InMemoryDisputes();
    store.open('d1');
    await expect(store.assess({ disputeId: 'd1' })).resolves.toEqual({ status: 'IN_REVIEW', escalationLevel: 0 });
    await expect(store.escalate({ disputeId: 'd1', level: 2 })).resolves.toEqual({ status: 'IN_REVIEW', escalationLevel: 2 });
    await expect(store.escalate({ disputeId: 'd1', level: 1 })).resolves.toEqual({ status: 'IN_REVIEW', escalationLevel: 2 });
    store.close('d1', 'REJECT', 'agent:ann');
    expect(() => store.close('d1', 'ACCEPT', 'agent:bo')).toThrow(expect.objectContaining({ code: 'CONFLICT' }));
    expect(store.close('d1', 'REJECT', 'agent:ann')).toEqual({ status: 'REJECTED', escalationLevel: 2 });
    await expect(store.decide({ disputeId: 'd1', decision: 'ACCEPT', note: 'late' })).resolves.toEqual({ status: 'REJECTED', escalationLevel: 2 });
    await expect(store.escalate({ disputeId: 'd1', level: 3 })).resolves.toEqual({ status: 'REJECTED', escalationLevel: 2 });

    store.open('d2', { autoAcceptRule: 'small-amount' });
    await expect(store.assess({ disputeId: 'd2' })).resolves.toEqual({ status: 'ACCEPTED', escalationLevel: 0 });
    expect(store.get('d2')?.decidedBy).toBe('auto:small-amount');
    await expect(store.state({ disputeId: 'nope' })).rejects.toMatchObject({ code: 'DISPUTE_NOT_FOUND' });
  });
});
