import { PortableMigration } from '@ledgerline/platform';

/** What an order failed by an internal error before 29afab9 tells its customer from now on (no reference was kept then). */
export const RECORDED_BEFORE_REFERENCES = 'internal error (recorded before references were kept)';

/** A code a DomainError or a deliberate ApplicationFailure carries; an activity's uncoded error was typed by its class name (Error, TypeError, …Exception). */
const CODED = /^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/;

/** failOrder's own text when the caller gave none (not an error's). */
const FAIL_ORDER_DEFAULT = 'The order failed';

/**
 * Whether a FAILED order's stored failure is an internal error's raw text (PostgreSQL's, a provisioning driver's,
 * Temporal's), decided as the code of 29afab9 decides it, for the shapes the code before wrote:
 * - the in-process saga: any error but a DomainError or a timeout, as PROVISIONING_FAILED with the error's message;
 * - the workflow: an activity's uncoded error, typed by its class name (not CODED); a failure that is no
 *   ApplicationFailure (PROVISIONING_FAILED), an untyped one (ORDER_FAILED), each with its message;
 * - and, beyond that rule, a subscribers step the old workflow gave up on after its bounded retries, which answered
 *   INTERNAL / INTERNAL_SERVER_ERROR with PostgreSQL's text before GraphQL errors carried references (88253b3).
 * Already "internal error (…)" (the new code's, or this migration's): left alone, so running it again changes nothing.
 * A coded refusal (PROVISIONING_SIM_UNKNOWN…), a timeout and ORDER_FULFILMENT_ENDED keep their messages.
 */
export function leakedFailure(code: string | null, message: string | null): { code: string } | null {
  if (code === null || message === null || message.startsWith('internal error (')) return null;
  if (!CODED.test(code)) return { code: 'PROVISIONING_FAILED' }; // what the workflow records now for such a failure
  if (code === 'PROVISIONING_FAILED' || code === 'INTERNAL' || code === 'INTERNAL_SERVER_ERROR') return { code };
  if (code === 'ORDER_FAILED' && message !== FAIL_ORDER_DEFAULT) return { code };
  return null;
}

/**
 * Orders failed by an internal error before 29afab9 kept the error's text as their `failure_message`, which their
 * customer reads (`ProductOrder.failureMessage`): PostgreSQL's statement and constraint, a driver's address with
 * its credentials (`hlr://provisioner:s3cret@…`). Each such order (`leakedFailure`) now says
 * "internal error (recorded before references were kept)", and an uncoded failure code (an error's class name) is
 * PROVISIONING_FAILED as the workflow records it now; the upsell offer whose acceptance placed it (`reason`
 * "Order <id> failed: <code>: <message>", FAILED and what it became since) quotes the new text. The events already
 * published carry the old text and are not changed. Plain SQL rather than the entities; same on PostgreSQL and
 * SQLite; running it again changes nothing.
 */
export class Migration20270203000000_order_failure_internal_message extends PortableMigration {
  override async up(): Promise<void> {
    const orders = (await this.execute(`select id, failure_code, failure_message from product_order where status = 'FAILED' and failure_message is not null and failure_message not like 'internal error (%'`)) as {
      id: string;
      failure_code: string | null;
      failure_message: string | null;
    }[];
    for (const o of orders) {
      const leaked = leakedFailure(o.failure_code, o.failure_message);
      if (!leaked) continue;
      await this.execute(`update product_order set failure_code = ?, failure_message = ? where id = ?`, [leaked.code, RECORDED_BEFORE_REFERENCES, o.id]);
      const reason = `Order ${o.id} failed: ${leaked.code}: ${RECORDED_BEFORE_REFERENCES}`.slice(0, 200);
      await this.execute(`update upsell_offer set reason = ? where order_id = ? and reason like ?`, [reason, o.id, `Order ${o.id} failed:%`]);
    }
    super.up();
  }

  protected override statements(): string[] {
    return [];
  }
}
