/**
 * Durations as the API and the environment write them: "1500ms", "90s", "5m", "24h", "7d",
 * or ISO-8601 ("PT5M", "P1DT2H"). Internally a duration is a whole number of milliseconds.
 */

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

const SHORT_FORM = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;
// Years and months have no fixed length, so only weeks, days and time parts are accepted.
const ISO_FORM =
  /^P(?:(\d+(?:\.\d+)?)W)?(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;

/** Parses a duration; returns undefined when the text is not one of the accepted forms. */
export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim();
  const short = SHORT_FORM.exec(trimmed);
  if (short) {
    const [, amount, unit] = short;
    return Math.round(Number(amount) * UNIT_MS[unit as keyof typeof UNIT_MS]);
  }
  const iso = ISO_FORM.exec(trimmed.toUpperCase());
  if (!iso || trimmed.length <= 1 || /T$/i.test(trimmed)) return undefined;
  const [, weeks, days, hours, minutes, seconds] = iso.map((part) => (part === undefined ? 0 : Number(part)));
  if ([weeks, days, hours, minutes, seconds].every((part) => part === 0) && !/[0-9]/.test(trimmed)) {
    return undefined;
  }
  return Math.round(
    (weeks ?? 0) * 7 * UNIT_MS.d +
      (days ?? 0) * UNIT_MS.d +
      (hours ?? 0) * UNIT_MS.h +
      (minutes ?? 0) * UNIT_MS.m +
      (seconds ?? 0) * UNIT_MS.s,
  );
}

/** Formats milliseconds as ISO-8601, e.g. 90_000 → "PT1M30S", 0 → "PT0S". */
export function formatDuration(ms: number): string {
  let rest = Math.max(0, Math.round(ms));
  const days = Math.floor(rest / UNIT_MS.d);
  rest -= days * UNIT_MS.d;
  const hours = Math.floor(rest / UNIT_MS.h);
  rest -= hours * UNIT_MS.h;
  const minutes = Math.floor(rest / UNIT_MS.m);
  rest -= minutes * UNIT_MS.m;
  const seconds = rest / UNIT_MS.s;
  const time = `${hours ? `${hours}H` : ''}${minutes ? `${minutes}M` : ''}${seconds ? `${Number(seconds.toFixed(3))}S` : ''}`;
  if (!days && !time) return 'PT0S';
  return `P${days ? `${days}D` : ''}${time ? `T${time}` : ''}`;
}

/** What the duration forms look like, for error messages. */
export const DURATION_FORMS = '"1500ms", "90s", "5m", "24h", "7d" or ISO-8601 such as "PT5M"';
