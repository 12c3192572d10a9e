import type { Command } from 'commander';
import type { Connection } from '@temporalio/client';
import { graphClient } from './graph-client';
import { wholeNumber } from './options';
import type { BackfillEntry } from '../../../workflows/src/bill-cycle-backfill';

/** One line per account, as the pass decides it. */
export function describeEntry(e: BackfillEntry): string {
  const from = (i: { startFrom: string; billCycleDay: number; timezone: string }) => `from ${i.startFrom} (day ${i.billCycleDay}, ${i.timezone})`;
  const replaces = (p: string | null) => (p ? `, replacing a ${p} one` : '');
  switch (e.action) {
    case 'started':
      return `started      ${e.billingAccountId} ${from(e.input)}${replaces(e.previous)}`;
    case 'would-start':
      return `would start  ${e.billingAccountId} ${from(e.input)}${replaces(e.previous)}`;
    case 'started-and-closed':
      return `started      ${e.billingAccountId} ${from(e.input)}, then told it closed at ${e.closedAt}`;
    case 'skipped':
      return `skipped      ${e.billingAccountId}: ${e.reason}`;
    case 'failed':
      return `failed       ${e.billingAccountId}: ${e.error}`;
  }
}

export function registerBillCycleCommands(program: Command): void {
  const billcycle = program.command('billcycle').description("Bill cycles: each postpaid account's billCycleWorkflow (Temporal).");
  billcycle
    .command('backfill')
    .description(
      'Start the bill cycle of every open postpaid account that has none running (accounts opened before the bill-cycle bridge ran), from the cycle period containing now. Idempotent: run it again, or beside the worker, and each account still has one cycle.',
    )
    .option('--dry-run', 'print what would be started, start nothing')
    .option('--restart-ended', 'also start again cycles an operator terminated or cancelled (skipped by default)')
    .option('--page-size <n>', 'accounts read per request (1-500, default 100)', wholeNumber('--page-size', 500))
    .action(async (o: { dryRun?: boolean; restartEnded?: boolean; pageSize?: number }) => {
      // Loaded when run, so other commands start without Temporal's client.
      const { Client, Connection } = await import('@temporalio/client');
      const { backfillBillCycles, GraphqlPostpaidAccountsClient } = await import('../../../workflows/src/bill-cycle-backfill');
      const address = process.env.TEMPORAL_ADDRESS || '127.0.0.1:7233';
      let connection: Connection;
      try {
        connection = await Connection.connect({ address });
      } catch {
        throw new Error(`cannot reach Temporal at ${address} (set TEMPORAL_ADDRESS)`);
      }
      try {
        const client = new Client({ connection, namespace: process.env.TEMPORAL_NAMESPACE || 'default' });
        const counts = { started: 0, skipped: 0, failed: 0 };
        const out = await backfillBillCycles({
          accounts: new GraphqlPostpaidAccountsClient(await graphClient()),
          client,
          taskQueue: process.env.TEMPORAL_TASK_QUEUE || 'ledgerline',
          now: new Date(),
          dryRun: Boolean(o.dryRun),
          restartEnded: Boolean(o.restartEnded),
          pageSize: o.pageSize,
          onEntry: (e) => {
            counts[e.action === 'skipped' ? 'skipped' : e.action === 'failed' ? 'failed' : 'started'] += 1;
            process.stdout.write(`${describeEntry(e)}\n`);
          },
        });
        process.stdout.write(`${o.dryRun ? 'dry run: ' : ''}${out.examined} open postpaid accounts, ${counts.started} ${o.dryRun ? 'would be started' : 'started'}, ${counts.skipped} skipped, ${counts.failed} failed\n`);
        if (out.failed > 0) process.exitCode = 1;
      } finally {
        await connection.close();
      }
    });
}
