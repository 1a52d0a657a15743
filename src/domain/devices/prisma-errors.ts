/** Recognising the Prisma errors the device domain turns into API errors. */

/** True for a unique constraint violation (Prisma P2002), e.g. a recording id taken twice. */
export function isPrismaUniqueViolation(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 'P2002';
}
