/** Recognising the Prisma errors the device domain turns into API errors. */

/**
 * True for a unique constraint violation, e.g. a recording id taken twice: Prisma's P2002, or the
 * driver adapter's own error, which Prisma passes through unmapped inside interactive
 * transactions on PGlite (`DriverAdapterError` with the Postgres code 23505 as its cause).
 */
export function isPrismaUniqueViolation(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, name, cause } = error as { code?: unknown; name?: unknown; cause?: unknown };
  if (code === 'P2002') return true;
  if (name !== 'DriverAdapterError' || typeof cause !== 'object' || cause === null) return false;
  const driver = cause as { kind?: unknown; code?: unknown };
  return (
    driver.kind === 'UniqueConstraintViolation' || (driver.kind === 'postgres' && driver.code === '23505')
  );
}
