import { runServiceMain } from '@ledgerline/platform';
import { walletsService } from './service';

await runServiceMain(walletsService);
