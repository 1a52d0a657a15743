/**
 * The clock of the benchmark payloads' `sentAt` (their publish time), which the load client
 * subtracts from the time it read a delivery: CLOCK_MONOTONIC in ms. The publisher (this process)
 * and the Go load client (bench/support/go-load-client/clock.go) read the same kernel clock, so a
 * latency is one subtraction with no offset to estimate, and no wall-clock step (NTP) can skew it.
 * performance.now() is CLOCK_MONOTONIC (libuv's uv_hrtime) minus a fixed origin, so it stays the
 * cheap read and the origin is added back (performanceOrigin).
 */
const PERFORMANCE_ORIGIN_MS = performanceOrigin();

/**
 * CLOCK_MONOTONIC minus performance.now(), in ms: an hrtime read bracketed by two
 * performance.now() reads, the tightest of a few tries (a first call can take tens of µs).
 */
function performanceOrigin(): number {
  let origin = 0;
  let tightest = Number.POSITIVE_INFINITY;
  for (let attempt = 0; attempt < 10; attempt++) {
    const before = performance.now();
    const monotonic = Number(process.hrtime.bigint()) / 1e6;
    const after = performance.now();
    if (after - before < tightest) {
      tightest = after - before;
      origin = monotonic - (before + after) / 2;
    }
  }
  return origin;
}

/** CLOCK_MONOTONIC in ms, now or at a given performance.now() time. */
export function monotonicMs(at: number = performance.now()): number {
  return at + PERFORMANCE_ORIGIN_MS;
}
