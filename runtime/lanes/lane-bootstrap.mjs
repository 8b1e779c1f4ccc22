// Worker threads do not inherit tsx's loader, so a lane starts here: register tsx, then load the TypeScript worker.
import { register } from 'tsx/esm/api';
register();
await import('./lane-worker.ts');
