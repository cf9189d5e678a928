// Training thread bootstrap: worker threads do not inherit the parent's TypeScript loader, so register tsx
// here and load the TypeScript worker. (A bundled build points the Worker at its compiled worker instead.)
import { register } from 'tsx/esm/api';

register();
await import('./train-worker.ts');
