import { buildProgram } from './program';

const program = buildProgram();

try {
  await program.parseAsync(process.argv);
} catch (error) {
  process.stderr.write(`ledgerline: ${(error as Error).message}\n`);
  process.exitCode = 1;
}
