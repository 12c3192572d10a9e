import { RPC } from '@ledgerline/contracts';
import type { ServiceRuntime } from '@ledgerline/platform';
import { handleChargingSession, natsCallerOf, type ChargingSessionRequest } from '../application/charging-session';
import type { UsageRuntime } from '../usage-runtime';

/**
 * Network elements → usage over core NATS request/reply (queue group: any replica answers). A request
 * carries no caller: only NATS's `network` user may publish on the subject (deploy/nats), i.e. the
 * platform's own network elements, which name the platform's sessions, or a partner's by giving its
 * `partnerId` (natsCallerOf; partners use GraphQL).
 */
export async function startChargingSessionResponder(messaging: ServiceRuntime['messaging'], usage: UsageRuntime, runtime: ServiceRuntime): Promise<() => Promise<void>> {
  const sub = messaging.nc.subscribe(RPC.chargingSession, {
    queue: 'usage',
    callback: (err, msg) => {
      if (err) return;
      void (async () => {
        let reply;
        try {
          const req = msg.json<ChargingSessionRequest>();
          reply = await handleChargingSession(usage, messaging.nc, req, runtime.clock.now(), natsCallerOf(req));
        } catch (error) {
          runtime.logger.warn({ err: error }, 'charging session request failed');
          reply = { sessionId: '', resultCode: 'RATING_FAILED', finalUnitIndication: true, message: (error as Error).message };
        }
        msg.respond(JSON.stringify(reply));
      })();
    },
  });
  return async () => sub.unsubscribe();
}
