import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { defineConfig } from 'prisma/config';

// prisma/orm#27403: "Column type 'name' could not be deserialized" during `migrate dev`.
// The schema engine reads catalog columns of type `name` (OID 19) and `char` (OID 18);
// make pg hand them over as plain text.
const addFields = pg.Result.prototype.addFields;
pg.Result.prototype.addFields = function patchedAddFields(fieldDescriptions) {
  for (const field of fieldDescriptions) {
    if (field.dataTypeID === 18 || field.dataTypeID === 19) field.dataTypeID = 25;
  }
  return addFields.call(this, fieldDescriptions);
};

// The schema's datasource reads DATABASE_URL even for `prisma generate`, which needs no database;
// a placeholder keeps generation working on a machine with no database configured.
process.env.DATABASE_URL ??= 'postgres://localhost:5432/streamgate';

export default defineConfig({
  experimental: { adapter: true },
  engine: 'js',
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  adapter: async () =>
    new PrismaPg({ connectionString: process.env.DATABASE_URL }),
});
