import {
  ForbiddenError,
  NotFoundError,
  SubscriptionDeniedError,
  UnauthenticatedError,
} from '../../errors.ts';
import type { Viewer } from '../viewer.ts';
import type { TopicDefinition } from './topic.ts';

/**
 * A topic restricted to other tenants does not exist for the caller: it is not listed, and
 * naming it is NOT_FOUND, as for any other tenant's object (DESIGN.md, identity and access).
 */
export function isVisibleTo(viewer: Viewer, topic: TopicDefinition): boolean {
  return topic.tenants.length === 0 || (viewer.tenantId !== null && topic.tenants.includes(viewer.tenantId));
}

/** One of the topic's required roles is needed; none required means any authenticated caller. */
export function canSubscribe(viewer: Viewer, topic: TopicDefinition): boolean {
  return (
    isVisibleTo(viewer, topic) &&
    (topic.requiredRoles.length === 0 || topic.requiredRoles.some((role) => viewer.roles.includes(role)))
  );
}

/** The caller, or UNAUTHENTICATED: topics are never open to anonymous callers. */
export function requireViewer(viewer: Viewer | null): Viewer {
  if (!viewer) throw new UnauthenticatedError('a valid token is required for topics');
  return viewer;
}

/**
 * Checks one topic for a subscription: NOT_FOUND when unknown or restricted to other tenants,
 * SUBSCRIPTION_DENIED naming the topic and the roles when the caller has none of them.
 */
export function assertCanSubscribe(
  viewer: Viewer,
  name: string,
  topic: TopicDefinition | null,
): TopicDefinition {
  if (!topic || !isVisibleTo(viewer, topic)) throw new NotFoundError('topic', name);
  if (!canSubscribe(viewer, topic)) {
    throw new SubscriptionDeniedError(
      `subscribing to topic "${name}" needs one of the roles ${topic.requiredRoles.join(', ')}`,
      { details: { topic: name, requiredRoles: topic.requiredRoles } },
    );
  }
  return topic;
}

/** Publishing needs one of the configured publisher roles and a topic the caller can see. */
export function assertCanPublish(
  viewer: Viewer,
  name: string,
  topic: TopicDefinition | null,
  publisherRoles: readonly string[],
): TopicDefinition {
  if (!topic || !isVisibleTo(viewer, topic)) throw new NotFoundError('topic', name);
  if (!publisherRoles.some((role) => viewer.roles.includes(role))) {
    throw new ForbiddenError(
      `publishing to topic "${name}" needs one of the roles ${publisherRoles.join(', ')}`,
      {
        details: { topic: name, requiredRoles: publisherRoles },
      },
    );
  }
  return topic;
}
