import { randomUUID } from 'node:crypto';
import type { Database } from '../../db/create-database.ts';
import { BadUserInputError } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import { assertSubject } from '../../pubsub/subject-pattern.ts';
import { TtlCache } from '../ttl-cache.ts';
import { ROUTE_ORIGIN, type Route, type RouteOrigin, RoutingTable } from './route-matching.ts';
import type { FileRoute } from './routing-file.ts';
import { parseSelector } from './selector.ts';

/** What setRoute takes. */
export interface RouteInput {
  readonly id?: string | null;
  readonly selector: string;
  readonly subject: string;
  readonly name?: string | null;
}

/** The routes table: routes from the routing file and from setRoute, one table (legacy.md B). */
export interface RouteService {
  /** Every route, oldest first. */
  list(): Promise<Route[]>;
  /** The routing table, read through the cache. */
  table(): Promise<RoutingTable>;
  /** One route by id (node(id)), or null. */
  find(id: string): Promise<Route | null>;
  /** Creates or replaces a route; the same selector and subject again returns the existing one. */
  set(input: RouteInput): Promise<Route>;
  /** True when a route was deleted, false when there was none with that id. */
  delete(id: string): Promise<boolean>;
  /** Makes the file routes of the table exactly these (start-up). */
  loadFileRoutes(routes: readonly FileRoute[]): Promise<void>;
}

interface RouteRow {
  id: string;
  selector: string;
  subject: string;
  name: string | null;
  url: string | null;
  queue: string | null;
  origin: string;
  createdAt: Date;
}

function toRoute(row: RouteRow): Route {
  const origin: RouteOrigin = row.origin === ROUTE_ORIGIN.FILE ? ROUTE_ORIGIN.FILE : ROUTE_ORIGIN.API;
  return { ...row, origin };
}

/** Checks what a client sent to setRoute; the messages name the field. */
function validateRouteInput(input: RouteInput): void {
  try {
    parseSelector(input.selector);
  } catch (error) {
    throw new BadUserInputError(`selector: ${(error as Error).message}`, { details: { field: 'selector' } });
  }
  try {
    assertSubject(input.subject);
  } catch (error) {
    throw new BadUserInputError(`subject: ${(error as Error).message}`, { details: { field: 'subject' } });
  }
  if (input.id != null && input.id.trim() === '') {
    throw new BadUserInputError('id: must not be empty', { details: { field: 'id' } });
  }
}

export function createRouteService(options: { db: Database; log: Logger; cacheTtlMs: number }): RouteService {
  const { prisma } = options.db;
  const cache = new TtlCache<'table', RoutingTable>(options.cacheTtlMs, 1);

  const list = async (): Promise<Route[]> => {
    const rows = await prisma.route.findMany({ orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
    return rows.map(toRoute);
  };

  const table = (): Promise<RoutingTable> => cache.get('table', async () => new RoutingTable(await list()));

  return {
    list,
    table,
    async find(id) {
      return (await table()).routes.find((route) => route.id === id) ?? null;
    },

    async set(input) {
      validateRouteInput(input);
      const data = {
        selector: input.selector,
        subject: input.subject,
        name: input.name ?? null,
        origin: ROUTE_ORIGIN.API,
      };
      try {
        const row = await prisma.$transaction(async (tx) => {
          const same = await tx.route.findUnique({
            where: { selector_subject: { selector: input.selector, subject: input.subject } },
          });
          if (input.id == null) {
            return same ?? tx.route.create({ data: { id: `route:${randomUUID()}`, ...data } });
          }
          if (same && same.id !== input.id) {
            throw new BadUserInputError(
              `route "${same.id}" already forwards "${input.selector}" to "${input.subject}"`,
              { details: { field: 'selector', route: same.id } },
            );
          }
          return tx.route.upsert({
            where: { id: input.id },
            create: { id: input.id, ...data },
            update: data,
          });
        });
        return toRoute(row);
      } finally {
        cache.clear();
      }
    },

    async delete(id) {
      const { count } = await prisma.route.deleteMany({ where: { id } });
      cache.clear();
      return count > 0;
    },

    async loadFileRoutes(routes) {
      await prisma.$transaction(async (tx) => {
        await tx.route.deleteMany({
          where: { origin: ROUTE_ORIGIN.FILE, id: { notIn: routes.map((route) => route.id) } },
        });
        for (const route of routes) {
          // The file wins over an API route with the same selector and subject.
          await tx.route.deleteMany({
            where: { selector: route.selector, subject: route.subject, id: { not: route.id } },
          });
          const data = {
            selector: route.selector,
            subject: route.subject,
            name: route.name,
            url: route.url,
            queue: route.queue,
            origin: ROUTE_ORIGIN.FILE,
          };
          await tx.route.upsert({ where: { id: route.id }, create: { id: route.id, ...data }, update: data });
        }
      });
      cache.clear();
      options.log.info({ routes: routes.length }, 'routing file loaded');
    },
  };
}
