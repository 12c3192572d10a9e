#!/usr/bin/env node
// Runs the TypeScript CLI through tsx's loader in this process, so `npx ledgerline …` works from a
// fresh clone without a build (and without a second node process to start).
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { register } from 'tsx/esm/api';

register();
await import(pathToFileURL(join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'main.ts')).href);
