import type { GraphQLContext } from '../domain/resolver-context.ts';
import type { TopicDefinition } from '../domain/topics/topic.ts';
import type { TopicDelivery, TopicMessage } from '../domain/topics/topic-message.ts';
import type { PublishOutcome } from '../domain/topics/topic-service.ts';

/** Query.topics: the topics the caller may subscribe to. */
export function resolveTopics(context: GraphQLContext): Promise<TopicDefinition[]> {
  return context.services.topics.list(context.viewer);
}

/** Query.topic: one topic, or null when unknown or not the caller's. */
export function resolveTopic(context: GraphQLContext, name: string): Promise<TopicDefinition | null> {
  return context.services.topics.get(context.viewer, name);
}

/** Topic.activeSubscriptions: live subscriptions on this instance. */
export function resolveActiveSubscriptions(context: GraphQLContext, topic: TopicDefinition): number {
  return context.services.topics.activeSubscriptions(topic.name);
}

/** Mutation.publish. */
export function resolvePublish(
  context: GraphQLContext,
  args: { topic: string; data: unknown; key?: string | null },
): Promise<PublishOutcome> {
  return context.services.topics.publish(context.viewer, args.topic, args.data, args.key);
}

/** Mutation.publishMessages. */
export function resolvePublishMessages(
  context: GraphQLContext,
  args: { topic: string; messages: readonly unknown[]; key?: string | null },
): Promise<PublishOutcome> {
  return context.services.topics.publishMany(context.viewer, args.topic, args.messages, args.key);
}

/** Subscription.topicMessages: checked in full before the stream is returned. */
export function resolveTopicMessages(
  context: GraphQLContext,
  args: { topics: readonly string[]; filter?: unknown; after?: string | null },
): Promise<AsyncIterable<TopicDelivery>> {
  return context.services.topics.subscribe(
    context.viewer,
    args.topics,
    args.filter ?? null,
    args.after,
    context.audience,
  );
}

/** One stream item as a TopicMessage; the error that ends a stream is thrown so the client sees it. */
export function resolveTopicDelivery(delivery: TopicDelivery): TopicMessage {
  if (delivery.kind === 'failure') throw delivery.error;
  return delivery.message;
}
