import type { Command } from 'commander';
import { MAX_RECORD_USAGE_BATCH } from '../../usage/src/application/record-usage';
import { sourceOption } from '../../usage/src/cli/source-option';
import { optionValue, wholeNumber } from './options';

export function registerUsageCommands(program: Command): void {
  const usage = program.command('usage').description('Usage records.');
  usage
    .command('import <file>')
    .description('Import a CSV CDR file (idempotent by source and event id; resumes from its checkpoint after an interruption).')
    .option(
      '--source <source>',
      'source for rows that name none (default csv:<file name>; a longer one than 64 characters is cut and ends in ~<hash>)',
      optionValue('--source', sourceOption),
    )
    .option('--checkpoint <path>', 'where to keep the checkpoint (default <file>.checkpoint.json, next to the file)')
    .option('--url <url>', 'usage subgraph GraphQL URL (default USAGE_URL or http://127.0.0.1:4003/graphql)')
    .option('--batch-size <n>', `records per request, 1 to ${MAX_RECORD_USAGE_BATCH} (default ${MAX_RECORD_USAGE_BATCH})`, wholeNumber('--batch-size', MAX_RECORD_USAGE_BATCH))
    .option('--restart', 'ignore the checkpoint and start from the first line')
    .option('--final', 'the file is complete: import a last line without a line break too (by default it is held back, as a file still being written or cut short)')
    .option(
      '--ignore-columns <names>',
      'header columns that are not usage fields, to leave out (comma-separated); any other such column stops the import',
      (v) => v.split(','),
    )
    .action(
      async (
        file: string,
        o: { source?: string; checkpoint?: string; url?: string; batchSize?: number; restart?: boolean; final?: boolean; ignoreColumns?: string[] },
      ) => {
        // Ctrl-C ends the run with its report (the bar stopped, the cursor shown again) instead of
        // killing it; a second one kills it as usual.
        const interrupt = new AbortController();
        const onSigint = () => interrupt.abort();
        process.once('SIGINT', onSigint);
        try {
          // Loaded when run: the importer brings the platform with it, a second of start-up every other command skipped.
          const { importUsageCsv } = await import('../../usage/src/cli/import-csv');
          const report = await importUsageCsv(file, { ...o, progress: process.stdout.isTTY, signal: interrupt.signal });
          process.stdout.write(`${JSON.stringify(report)}\n`);
          if (report.stopped) process.stderr.write(`${report.stopped}\n`);
          // 130: interrupted by SIGINT, as shells report it.
          process.exitCode = report.interrupted ? 130 : report.complete ? 0 : 1;
        } finally {
          process.off('SIGINT', onSigint);
        }
      },
    );
}
