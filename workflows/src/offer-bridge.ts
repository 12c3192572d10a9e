// Event → workflow bridge: each `usageOfferTriggered` event on the BILLING stream starts one
// upsellOfferWorkflow. The workflow id comes from the line, period and add-on, so a redelivered
// or repeated event joins the workflow already started (or finished) instead of offering twice.
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { EVENTS, parseCloudEvent } from '@ledgerline/contracts';
import { runDurableConsumers, type ConsumerHost } from '@ledgerline/platform';
import { upsellOfferInputProblems } from './domain/start-inputs';
import type { UpsellOfferInput } from './workflows/upsell-offer';

/**
 * The period in the id is its start instant (usage emits an offer once per line, period *start*
 * and add-on: two periods can share a name, one cut short the day it began before its end was
 * known and the one after it), or its name for an event without the start (workflows started
 * before keep their ids).
 */
export const upsellWorkflowId = (i: { lineId: string; period: string; periodStart?: string; offerCode: string }): string => `upsell-${i.lineId}-${i.periodStart ?? i.period}-${i.offerCode}`;

const instant = (v: unknown): string | undefined => {
  if (typeof v !== 'string') return undefined;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : new Date(t).toISOString();
};

/**
 * The workflow's input from a usageOfferTriggered event's data; throws when it cannot be read, naming the fields (the
 * workflow's own check, `upsellOfferInputProblems`: types too, not only that the fields are there). Period bounds
 * that are no instant are left out, as before.
 */
export function upsellOfferInput(data: unknown, validForHours?: number): UpsellOfferInput {
  const d = (data ?? {}) as { lineId?: unknown; period?: unknown; periodStart?: unknown; periodEnd?: unknown; offerCode?: unknown; rule?: unknown };
  if (!d.lineId || !d.period || !d.offerCode) throw new Error('data needs lineId, period and offerCode');
  const periodStart = instant(d.periodStart);
  const periodEnd = instant(d.periodEnd);
  const input = { lineId: d.lineId, period: d.period, ...(periodStart ? { periodStart } : {}), ...(periodEnd ? { periodEnd } : {}), offerCode: d.offerCode, rule: d.rule ?? 'unknown', validForHours };
  const problems = upsellOfferInputProblems(input);
  if (problems.length > 0) throw new Error(`data cannot start an offer: ${problems.join('; ')}`);
  return input as UpsellOfferInput;
}

/** The durable consumer's host (durable names, throw-away for tests), where offers start, and how long they stay open. */
export interface OfferBridgeOptions extends ConsumerHost {
  client: Client;
  taskQueue: string;
  validForHours?: number;
}

export async function startOfferBridge(o: OfferBridgeOptions): Promise<() => Promise<void>> {
  return runDurableConsumers(o, [
    {
      name: 'upsell',
      filter: EVENTS.usageOfferTriggered.subject,
      // Offers are about usage now: a new deployment does not replay old triggers.
      startAt: 'new',
      batchSize: 100,
      handle: async (messages) => {
        for (const m of messages) {
          let input: UpsellOfferInput;
          try {
            input = upsellOfferInput(parseCloudEvent(m.data).data, o.validForHours);
          } catch (err) {
            o.logger.error({ err, subject: m.subject, payload: m.string() }, 'offer event ignored: it cannot be read');
            continue;
          }
          try {
            await o.client.workflow.start('upsellOfferWorkflow', {
              workflowId: upsellWorkflowId(input),
              taskQueue: o.taskQueue,
              args: [input],
              workflowIdReusePolicy: 'REJECT_DUPLICATE',
            });
          } catch (err) {
            if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err; // the batch is redelivered
          }
        }
      },
    },
  ]);
}
