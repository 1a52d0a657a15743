import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { defineConfig } from 'prisma/config';

// prisma/orm#27403: "Column type 'name' could not be deserialized" during `migrate dev`.
// The schema engine reads catalog columns of type `name` (OID 19) and `char` (OID 18);
// make pg hand them over as plain text.
// addFields is internal to pg, hence the narrow type written out here.
type FieldDescription = { dataTypeID: number };
const resultPrototype = pg.Result.prototype as unknown as {
  addFields(this: unknown, fields: FieldDescription[]): void;
};
const addFields = resultPrototype.addFields;
resultPrototype.addFields = function patchedAddFields(fields) {
  for (const field of fields) {
    if (field.dataTypeID === 18 || field.dataTypeID === 19) field.dataTypeID = 25;
  }
  addFields.call(this, fields);
};

// The schema's datasource reads DATABASE_URL even for `prisma generate`, which needs no database;
// a placeholder keeps generation working on a machine with no database configured.
process.env.DATABASE_URL ??= 'postgres://localhost:5432/streamgate';

export default defineConfig({
  experimental: { adapter: true },
  engine: 'js',
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  adapter: async () => new PrismaPg({ connectionString: process.env.DATABASE_URL }),
});
