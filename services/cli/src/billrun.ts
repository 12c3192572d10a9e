import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { graphClient } from './graph-client';
import { MAX_BILL_RUN_BATCH } from '../../invoicing/src/domain/bill-run-batch';
import { wholeNumber } from './options';

const BILL_RUN_FIELDS = 'id cycleDate state driver totalAccounts totalBatches batchesDone accountsDone invoicesCreated accountsSetAside setAsideAccounts { billingAccountId code message }';

interface BillRun {
  id: string;
  cycleDate: string;
  state: string;
  driver: string;
  totalAccounts: number;
  totalBatches: number;
  batchesDone: number;
  accountsDone: number;
  invoicesCreated: number;
  /** Accounts the run could not bill for a reason their data gives (fix, then invoicing's billSetAsideAccounts). */
  accountsSetAside: number;
  setAsideAccounts: { billingAccountId: string; code: string; message: string }[];
}

/** The accounts a run set aside, one line each (nothing when none). */
function printSetAside(run: BillRun): void {
  if (run.accountsSetAside === 0) return;
  process.stdout.write(`${run.accountsSetAside} accounts set aside, not billed (fix them, then billSetAsideAccounts):
`);
  for (const a of run.setAsideAccounts) process.stdout.write(`  ${a.billingAccountId}: ${a.code} ${a.message}
`);
}

const FINISHED = new Set(['COMPLETED', 'FAILED', 'CANCELLED']);

/** Polls a run and draws a progress bar until it finishes (or only prints once with --no-follow). */
async function follow(call: Awaited<ReturnType<typeof graphClient>>, cycleDate: string, watch: boolean): Promise<number> {
  const read = async () => (await call<{ billRun: BillRun | null }>(`query($d: String!) { billRun(cycleDate: $d) { ${BILL_RUN_FIELDS} } }`, { d: cycleDate })).billRun;
  let run = await read();
  if (!run) {
    process.stdout.write(`no bill run for ${cycleDate}\n`);
    return 1;
  }
  if (!watch || FINISHED.has(run.state)) {
    process.stdout.write(`bill run ${run.id} for ${run.cycleDate}: ${run.state}, ${run.accountsDone}/${run.totalAccounts} accounts, ${run.invoicesCreated} invoices (${run.driver})\n`);
    printSetAside(run);
    return run.state === 'FAILED' ? 1 : 0;
  }
  const bar = new cliProgress.SingleBar({ format: `bill run ${cycleDate} [{bar}] {value}/{total} accounts | {invoices} invoices | {state}` }, cliProgress.Presets.shades_classic);
  bar.start(Math.max(run.totalAccounts, 1), run.accountsDone, { invoices: run.invoicesCreated, state: run.state });
  while (!FINISHED.has(run.state)) {
    await new Promise((r) => setTimeout(r, 500));
    run = (await read())!;
    bar.setTotal(Math.max(run.totalAccounts, 1));
    bar.update(run.accountsDone, { invoices: run.invoicesCreated, state: run.state });
  }
  bar.stop();
  process.stdout.write(`bill run ${run.id}: ${run.state}, ${run.invoicesCreated} invoices for ${run.totalAccounts} accounts\n`);
  printSetAside(run);
  return run.state === 'FAILED' ? 1 : 0;
}

export function registerBillRunCommands(program: Command): void {
  const billrun = program.command('billrun').description('Bill runs: bill one cycle date for every account whose period ends then.');
  billrun
    .command('start <cycleDate>')
    .description('Start (or join) the bill run of a cycle date (YYYY-MM-DD) and follow its progress.')
    .option('--batch-size <n>', `accounts per batch (1-${MAX_BILL_RUN_BATCH}; invoicing's default 500)`, wholeNumber('--batch-size', MAX_BILL_RUN_BATCH))
    .option('--driver <driver>', 'SERVICE (invoicing processes the batches) or WORKFLOW (a Temporal bill-run workflow does)')
    .option('--no-auto-issue', 'leave NEW drafts to review instead of issuing them')
    .option('--no-follow', 'return at once instead of drawing progress')
    .action(async (cycleDate: string, o: { batchSize?: number; driver?: string; autoIssue: boolean; follow: boolean }) => {
      const call = await graphClient();
      const r = await call<{ startBillRun: { billRun: BillRun; started: boolean } }>(
        `mutation($i: StartBillRunInput!) { startBillRun(input: $i) { started billRun { ${BILL_RUN_FIELDS} } } }`,
        { i: { cycleDate, batchSize: o.batchSize, driver: o.driver, autoIssue: o.autoIssue } },
      );
      process.stdout.write(`${r.startBillRun.started ? 'started' : 'joined the existing'} bill run ${r.startBillRun.billRun.id} for ${cycleDate}\n`);
      process.exitCode = await follow(call, cycleDate, o.follow);
    });
  billrun
    .command('status <cycleDate>')
    .description('Show (and with --watch, follow) the progress of a bill run.')
    .option('--watch', 'follow until it finishes')
    .action(async (cycleDate: string, o: { watch?: boolean }) => {
      process.exitCode = await follow(await graphClient(), cycleDate, Boolean(o.watch));
    });
}
