import { DomainError, RPC } from '@ledgerline/contracts';
import { internalErrorAnswer, type ServiceRuntime } from '@ledgerline/platform';
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
        const failed = (message: string) => ({ sessionId: '', resultCode: 'RATING_FAILED', finalUnitIndication: true, message });
        let req: ChargingSessionRequest;
        try {
          req = msg.json<ChargingSessionRequest>();
        } catch {
          msg.respond(JSON.stringify(failed('the request is not JSON (a charging session request is required)')));
          return;
        }
        let reply;
        try {
          reply = await handleChargingSession(usage, messaging.nc, req, runtime.clock.now(), natsCallerOf(req));
        } catch (error) {
          // The reply goes to a network element or partner: a coded domain error's message is meant for it, anything
          // else (PostgreSQL's text, a driver's) stays in the log under the reference the reply quotes.
          if (error instanceof DomainError) {
            runtime.logger.warn({ err: error }, 'charging session request failed');
            reply = failed(error.message);
          } else reply = failed(internalErrorAnswer(runtime.logger, error, 'charging session request failed').message);
        }
        msg.respond(JSON.stringify(reply));
      })();
    },
  });
  return async () => sub.unsubscribe();
}
