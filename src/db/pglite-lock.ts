import { readFileSync, unlinkSync } from 'node:fs';
import { open, readFile, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { StartupError } from '../startup-error.ts';

/** The lock file inside PGLITE_DIR; PGlite itself lets any number of processes open one directory. */
export const PGLITE_LOCK_FILE = 'streamgate.lock';

/** Who holds a PGlite directory. */
interface LockOwner {
  readonly pid: number;
  readonly host: string;
  /** Start time of the process in clock ticks since boot (Linux), so a reused pid is not mistaken for the owner. */
  readonly processStart?: string;
  readonly since: string;
}

/** A held lock; `release` is idempotent and also runs when the process exits without closing. */
export interface PgliteLock {
  release(): Promise<void>;
}

/**
 * Makes this process the only one using `dir`: two processes on one PGlite directory would each
 * see their own copy and lose each other's writes. A lock left by a process that is gone (killed,
 * crashed) is taken over; one held by a live process is a StartupError naming the directory and
 * the process.
 */
export async function lockPgliteDir(dir: string): Promise<PgliteLock> {
  const path = join(dir, PGLITE_LOCK_FILE);
  const me: LockOwner = {
    pid: process.pid,
    host: hostname(),
    processStart: processStartTime(process.pid),
    since: new Date().toISOString(),
  };
  for (let attempt = 0; ; attempt++) {
    try {
      const file = await open(path, 'wx');
      await file.writeFile(`${JSON.stringify(me)}\n`);
      await file.close();
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw error;
    }
    const owner = await readOwner(path);
    if (owner && isAlive(owner)) {
      const where = owner.host === me.host ? `pid ${owner.pid}` : `pid ${owner.pid} on host ${owner.host}`;
      throw new StartupError(
        `PGLITE_DIR=${dir} is in use by another streamgate (${where}, since ${owner.since}); a PGlite database serves one process: stop that one, or give this one its own PGLITE_DIR or a DATABASE_URL`,
      );
    }
    // Left behind by a process that is gone: take it over.
    await unlink(path).catch(() => {});
  }

  let released = false;
  // process.exit() skips close(): remove the lock on the way out all the same.
  const onExit = () => releaseSync();
  process.once('exit', onExit);
  function releaseSync(): void {
    if (released) return;
    released = true;
    try {
      if (ownedByMe(readFileSync(path, 'utf8'))) unlinkSync(path);
    } catch {
      // Already gone.
    }
  }
  return {
    async release() {
      process.off('exit', onExit);
      releaseSync();
    },
  };
}

function ownedByMe(text: string): boolean {
  return parseOwner(text)?.pid === process.pid;
}

async function readOwner(path: string): Promise<LockOwner | undefined> {
  try {
    return parseOwner(await readFile(path, 'utf8'));
  } catch {
    return undefined;
  }
}

function parseOwner(text: string): LockOwner | undefined {
  try {
    const owner = JSON.parse(text) as Partial<LockOwner>;
    return typeof owner.pid === 'number' && typeof owner.host === 'string'
      ? { pid: owner.pid, host: owner.host, processStart: owner.processStart, since: String(owner.since) }
      : undefined;
  } catch {
    // Half-written by a process killed while writing it: nobody holds it.
    return undefined;
  }
}

/** Another host's process cannot be checked from here, so it counts as alive. */
function isAlive(owner: LockOwner): boolean {
  if (owner.host !== hostname()) return true;
  if (owner.pid === process.pid) return false;
  try {
    process.kill(owner.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  const start = processStartTime(owner.pid);
  return owner.processStart === undefined || start === undefined || start === owner.processStart;
}

/** Field 22 of /proc/PID/stat (after the command, which may contain spaces); undefined off Linux. */
function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}
