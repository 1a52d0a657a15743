import { builder } from './builder.ts';

/** What a publishing mutation returns (publish, publishStateEntries, ingest). */
export interface PublishResultShape {
  readonly accepted: number;
  readonly position: string | null;
}

export const PublishResultRef = builder.objectRef<PublishResultShape>('PublishResult').implement({
  fields: (t) => ({
    accepted: t.exposeInt('accepted'),
    position: t.exposeString('position', {
      nullable: true,
      description: 'Broker position of the last accepted message, when the broker has one.',
    }),
  }),
});
