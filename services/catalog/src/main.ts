import { runServiceMain } from '@ledgerline/platform';
import { catalogService } from './service';

await runServiceMain(catalogService);
