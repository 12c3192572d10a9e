import { runServiceMain } from '@ledgerline/platform';
import { usageService } from './service';

await runServiceMain(usageService);
