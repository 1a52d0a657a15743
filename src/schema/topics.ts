import { TOPIC_SOURCES, type TopicDefinition } from '../domain/topics/topic.ts';
import type { TopicMessage } from '../domain/topics/topic-message.ts';
import {
  resolveActiveSubscriptions,
  resolvePublish,
  resolvePublishMessages,
  resolveTopic,
  resolveTopicDelivery,
  resolveTopicMessages,
  resolveTopics,
} from '../resolvers/topics.ts';
import { builder } from './builder.ts';
import { PublishResultRef } from './publish-result.ts';

const TopicSourceRef = builder.enumType('TopicSource', { values: Object.values(TOPIC_SOURCES) });

const TopicRef = builder.objectRef<TopicDefinition>('Topic').implement({
  fields: (t) => ({
    name: t.exposeString('name'),
    description: t.exposeString('description', { nullable: true }),
    requiredRoles: t.exposeStringList('requiredRoles', {
      description: 'Roles of which the caller needs one to subscribe; empty = any authenticated caller.',
    }),
    source: t.field({
      type: TopicSourceRef,
      description: "Where the topic's messages come from.",
      resolve: (topic) => topic.source,
    }),
    activeSubscriptions: t.int({
      resolve: (topic, _args, context) => resolveActiveSubscriptions(context, topic),
    }),
  }),
});

const FieldPredicateRef = builder.inputType('FieldPredicate', {
  description:
    'A condition on one field of the message data; `field` is a dotted path. All operators given must hold.',
  fields: (t) => ({
    field: t.string({ required: true }),
    eq: t.field({ type: 'JSON' }),
    ne: t.field({ type: 'JSON' }),
    in: t.field({ type: ['JSON'], required: { list: false, items: true } }),
    gt: t.float(),
    gte: t.float(),
    lt: t.float(),
    lte: t.float(),
    exists: t.boolean(),
    prefix: t.string(),
  }),
});

const MessageFilterRef = builder.inputType('MessageFilter', {
  description: 'All given conditions must hold.',
  fields: (t) => ({
    equals: t.field({
      type: 'JSONObject',
      description:
        'Field equality, e.g. {"commodity": "oil", "region": "north_sea"}; dotted keys reach nested fields.',
    }),
    where: t.field({ type: [FieldPredicateRef] }),
  }),
});

const TopicMessageRef = builder.objectRef<TopicMessage>('TopicMessage').implement({
  fields: (t) => ({
    topic: t.exposeString('topic'),
    key: t.exposeString('key', { nullable: true }),
    data: t.expose('data', { type: 'JSON' }),
    timestamp: t.expose('timestamp', { type: 'DateTime' }),
    partition: t.exposeInt('partition', {
      nullable: true,
      description: 'Kafka partition, when the topic comes from Kafka.',
    }),
    offset: t.exposeString('offset', {
      nullable: true,
      description: "Kafka offset, or the broker's sequence.",
    }),
    position: t.exposeString('position', { description: 'Opaque resume token for topicMessages(after:).' }),
  }),
});

builder.queryFields((t) => ({
  topics: t.field({
    type: [TopicRef],
    description: 'Topics the caller may subscribe to.',
    resolve: (_root, _args, context) => resolveTopics(context),
  }),
  topic: t.field({
    type: TopicRef,
    nullable: true,
    args: { name: t.arg.string({ required: true }) },
    resolve: (_root, { name }, context) => resolveTopic(context, name),
  }),
}));

builder.mutationField('publish', (t) =>
  t.field({
    type: PublishResultRef,
    description: 'Publishes one message to a topic (Kafka-backed topics go to Kafka).',
    args: {
      topic: t.arg.string({ required: true }),
      data: t.arg({ type: 'JSON', required: true }),
      key: t.arg.string(),
    },
    resolve: (_root, args, context) => resolvePublish(context, { ...args, data: args.data }),
  }),
);

builder.mutationField('publishMessages', (t) =>
  t.field({
    type: PublishResultRef,
    description:
      "Publishes many messages to one topic in one call, in order (the batch form of publish; also\n`POST /topics/{topic}/messages` with a JSON array or NDJSON). Every message is checked before\nany is sent; `accepted` counts them, `position` is the last one's.",
    args: {
      topic: t.arg.string({ required: true }),
      messages: t.arg({ type: ['JSON'], required: true }),
      key: t.arg.string({ description: 'One key for every message of the call.' }),
    },
    resolve: (_root, args, context) => resolvePublishMessages(context, args),
  }),
);

builder.subscriptionField('topicMessages', (t) =>
  t.field({
    type: TopicMessageRef,
    description:
      'Messages of one or more topics that pass the filter. The caller must be entitled to every\ntopic, else the subscription fails with SUBSCRIPTION_DENIED before any message flows.\n`after` resumes each topic after a position that an earlier message carried.',
    args: {
      topics: t.arg.stringList({ required: true }),
      filter: t.arg({ type: MessageFilterRef }),
      after: t.arg.string(),
    },
    subscribe: (_root, args, context) => resolveTopicMessages(context, args),
    resolve: (delivery) => resolveTopicDelivery(delivery),
  }),
);
