import { runServiceMain } from '@ledgerline/platform';
import { subscribersService } from './service';

await runServiceMain(subscribersService);
