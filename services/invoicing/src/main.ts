import { runServiceMain } from '@ledgerline/platform';
import { invoicingService } from './service';

await runServiceMain(invoicingService);
