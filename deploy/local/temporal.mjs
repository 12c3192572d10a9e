export * from '../../scripts/temporal.mjs';
