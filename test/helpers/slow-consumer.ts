import { readFileSync } from 'node:fs';

/** The largest buffer (bytes) the kernel may autotune a TCP socket to, from /proc (`tcp_rmem`, `tcp_wmem`). */
function autotuneMax(name: 'tcp_rmem' | 'tcp_wmem', fallback: number): number {
  try {
    const max = Number(readFileSync(`/proc/sys/net/ipv4/${name}`, 'utf8').trim().split(/\s+/)[2]);
    return Number.isFinite(max) && max > 0 ? max : fallback;
  } catch {
    return fallback;
  }
}

/**
 * How many bytes a slow-consumer test may send toward a client that stopped reading before it
 * concludes that the server never cut that client off. The kernel's socket buffers on both ends
 * fill before the server's own buffer (what MAX_CLIENT_BUFFER bounds) grows at all; on loopback
 * they autotune up to `tcp_rmem`'s and `tcp_wmem`'s maximum and were measured holding about
 * twice that in payload (79 MB against a 32 MB + 4 MB maximum), so a fixed count of messages
 * passes on one machine and fails on the next. Four times the maximum, and never under 64 MB.
 */
export function slowConsumerBudgetBytes(): number {
  const kernel = autotuneMax('tcp_rmem', 6 * 1024 * 1024) + autotuneMax('tcp_wmem', 4 * 1024 * 1024);
  return Math.max(4 * kernel, 64 * 1024 * 1024);
}
