import { runServer } from './run-server.ts';

// `npm start`: the same start path as `streamgate serve` (src/cli/serve-command.ts).
await runServer();
