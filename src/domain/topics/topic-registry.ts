import type { PrismaClient } from '../../db/create-database.ts';
import { TtlCache } from '../ttl-cache.ts';
import { TOPIC_SOURCES, type TopicDefinition, type TopicSource } from './topic.ts';

/** The topics and their entitlements, kept in Postgres (DESIGN.md decision 3). */
export interface TopicRegistry {
  list(): Promise<TopicDefinition[]>;
  get(name: string): Promise<TopicDefinition | null>;
  /**
   * Makes the registry hold exactly these topics (TOPICS_FILE is the source of truth when set):
   * upserts every one and deletes the others, in one transaction.
   */
  replaceAll(topics: readonly TopicDefinition[]): Promise<void>;
}

interface TopicRow {
  readonly name: string;
  readonly description: string | null;
  readonly source: string;
  readonly kafkaTopic: string | null;
  readonly requiredRoles: string[];
  readonly tenants: string[];
}

/**
 * @default 10s: how long a topic read from the database is reused. Topics change only when an
 * instance starts with a TOPICS_FILE; this instance's own change clears the cache at once, and
 * another instance's shows after at most this long. Without it every `publish` cost a query.
 */
export const TOPIC_CACHE_TTL_MS = 10_000;

export function createTopicRegistry(prisma: PrismaClient, cacheTtlMs = TOPIC_CACHE_TTL_MS): TopicRegistry {
  const byName = new TtlCache<string, TopicDefinition | null>(cacheTtlMs);
  return {
    async list() {
      const rows = await prisma.topic.findMany({ orderBy: { name: 'asc' } });
      return rows.map(toDefinition);
    },
    get(name) {
      return byName.get(name, async () => {
        const row = await prisma.topic.findUnique({ where: { name } });
        return row ? toDefinition(row) : null;
      });
    },
    async replaceAll(topics) {
      byName.clear();
      await prisma.$transaction([
        prisma.topic.deleteMany({ where: { name: { notIn: topics.map((topic) => topic.name) } } }),
        ...topics.map((topic) => {
          const fields = {
            description: topic.description,
            source: topic.source,
            kafkaTopic: topic.kafkaTopic,
            requiredRoles: [...topic.requiredRoles],
            tenants: [...topic.tenants],
          };
          return prisma.topic.upsert({
            where: { name: topic.name },
            create: { name: topic.name, ...fields },
            update: fields,
          });
        }),
      ]);
      byName.clear();
    },
  };
}

function toDefinition(row: TopicRow): TopicDefinition {
  const source: TopicSource = row.source === TOPIC_SOURCES.KAFKA ? TOPIC_SOURCES.KAFKA : TOPIC_SOURCES.BROKER;
  return {
    name: row.name,
    description: row.description,
    source,
    kafkaTopic: source === TOPIC_SOURCES.KAFKA ? (row.kafkaTopic ?? row.name) : null,
    requiredRoles: row.requiredRoles,
    tenants: row.tenants,
  };
}
