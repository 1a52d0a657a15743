/** A benchmark's knob from the environment: a positive number, else `fallback`. */
export function numberFromEnv(name: string, fallback: number): number {
  const value = Number(process.env[name]);
  return Number.isFinite(value) && value > 0 ? value : fallback;
}

/** A comma-separated list from the environment (`fallback` when unset). */
export function listFromEnv(name: string, fallback: string): string[] {
  return (process.env[name] ?? fallback).split(',').map((item) => item.trim());
}
