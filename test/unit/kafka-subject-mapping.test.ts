import { describe, expect, it } from 'vitest';
import { KafkaSubjectMapping } from '../../src/pubsub/kafka/kafka-subject-mapping.ts';

const mapping = new KafkaSubjectMapping({
  topicPrefix: 'streamgate.',
  topicSubjectTokens: 1,
  topicMap: [{ subjectPrefix: 'monitor', topic: 'apigear.monitor' }],
});

describe('Kafka subject mapping', () => {
  it.each([
    ['processor.state.s1', 'streamgate.processor', 'state.s1'],
    ['processor.state.s1.session', 'streamgate.processor', 'state.s1.session'],
    ['datasource.ds-1', 'streamgate.datasource', 'ds-1'],
    ['monitor.dev-1', 'apigear.monitor', 'dev-1'],
    ['monitor', 'apigear.monitor', 'monitor'],
    ['lonely', 'streamgate.lonely', 'lonely'],
    ['weird:name.x', 'streamgate.weird_name', 'x'],
  ])('puts %s on topic %s with key %s', (subject, topic, key) => {
    expect(mapping.addressOf(subject)).toEqual({ topic, key });
  });

  it.each([
    ['processor.state.*', { topics: ['streamgate.processor'] }],
    ['processor.>', { topics: ['streamgate.processor'] }],
    ['monitor.*', { topics: ['apigear.monitor'] }],
    ['monitor', { topics: ['apigear.monitor'] }],
  ])('reads %s from %j', (pattern, selection) => {
    expect(mapping.topicsOf(pattern)).toEqual(selection);
  });

  it('reads a wildcard in the topic token from every derived topic and the mapped ones', () => {
    const selection = mapping.topicsOf('*.dev-1');
    expect('regex' in selection).toBe(true);
    if (!('regex' in selection)) return;
    expect(selection.regex.test('streamgate.processor')).toBe(true);
    expect(selection.regex.test('apigear.monitor')).toBe(true);
    expect(selection.regex.test('other.topic')).toBe(false);
    expect(selection.regex.test('streamgate.a.b')).toBe(false);
  });

  it('gives a message its subject from the header, else from topic and key', () => {
    expect(mapping.subjectOf('streamgate.processor', 'state.s1', 'processor.state.s1')).toBe(
      'processor.state.s1',
    );
    expect(mapping.subjectOf('streamgate.processor', 'state.s1', undefined)).toBe('processor.state.s1');
    expect(mapping.subjectOf('apigear.monitor', 'dev-9', undefined)).toBe('monitor.dev-9');
    expect(mapping.subjectOf('streamgate.lonely', undefined, undefined)).toBe('lonely');
    expect(mapping.subjectOf('foreign-topic', 'k', undefined)).toBeUndefined();
  });

  it('names topics by more tokens when configured', () => {
    const deep = new KafkaSubjectMapping({ topicPrefix: 'sg-', topicSubjectTokens: 2, topicMap: [] });
    expect(deep.addressOf('processor.state.s1')).toEqual({ topic: 'sg-processor.state', key: 's1' });
    expect(deep.topicsOf('processor.state.>')).toEqual({ topics: ['sg-processor.state'] });
    expect('regex' in deep.topicsOf('processor.*.s1')).toBe(true);
  });
});
