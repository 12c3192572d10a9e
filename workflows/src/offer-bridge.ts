// Event → workflow bridge: each `usageOfferTriggered` event on the BILLING stream starts one
// upsellOfferWorkflow. The workflow id comes from the line, period and add-on, so a redelivered
// or repeated event joins the workflow already started (or finished) instead of offering twice.
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { EVENTS, parseCloudEvent } from '@ledgerline/contracts';
import { runDurableConsumers, type ConsumerHost } from '@ledgerline/platform';
import type { UpsellOfferInput } from './workflows/upsell-offer';

export const upsellWorkflowId = (i: { lineId: string; period: string; offerCode: string }): string => `upsell-${i.lineId}-${i.period}-${i.offerCode}`;

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
            const d = parseCloudEvent(m.data).data as { lineId?: string; period?: string; offerCode?: string; rule?: string };
            if (!d.lineId || !d.period || !d.offerCode) throw new Error('data needs lineId, period and offerCode');
            input = { lineId: d.lineId, period: d.period, offerCode: d.offerCode, rule: d.rule ?? 'unknown', validForHours: o.validForHours };
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
