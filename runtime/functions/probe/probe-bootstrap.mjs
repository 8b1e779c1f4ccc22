// Worker threads do not inherit tsx's loader, so the check's worker starts here: register tsx, then load it.
import { register } from 'tsx/esm/api';
register();
await import('./probe-worker.ts');
