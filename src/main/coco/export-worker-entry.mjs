// Export worker bootstrap: worker threads do not inherit the parent's TypeScript loader, so register tsx
// here and load the TypeScript worker. Where this file is missing (a bundled build) the export runs inline.
import { register } from 'tsx/esm/api';

register();
await import('./export-worker.ts');
