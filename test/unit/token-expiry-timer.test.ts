import { describe, expect, it } from 'vitest';
import { onTokenExpiry } from '../../src/server/auth/token-expiry.ts';

/** Active ref'd timers of this process, as Node reports them. */
const activeTimers = () =>
  process.getActiveResourcesInfo().filter((resource) => resource === 'Timeout').length;

describe('the token expiry timer of a connection', () => {
  it('is an active timer while armed and is gone once cancelled, for any number of connections', () => {
    // Each connection's delay ("until exp") is distinct. Node frees the timer list of a distinct
    // delay on clearTimeout only for a ref'd timer; an unref'd one (which getActiveResourcesInfo
    // does not list) left its list behind until exp: the soak's per-connection growth.
    const before = activeTimers();
    const now = Date.now();
    const cancels = Array.from({ length: 200 }, (_, index) =>
      onTokenExpiry(now + 3_600_000 + index * 7, () => {
        throw new Error('no expiry is due within this test');
      }),
    );
    expect(activeTimers()).toBe(before + 200);
    for (const cancel of cancels) cancel();
    expect(activeTimers()).toBe(before);
  });

  it('fires at once for a token already expired, leaving no timer', () => {
    const before = activeTimers();
    let fired = 0;
    const cancel = onTokenExpiry(Date.now() - 1, () => {
      fired += 1;
    });
    expect(fired).toBe(1);
    expect(activeTimers()).toBe(before);
    cancel();
    expect(fired).toBe(1);
  });
});
