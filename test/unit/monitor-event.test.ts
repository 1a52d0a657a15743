import { describe, expect, it } from 'vitest';
import { validateDeviceId, validateMonitorEvents } from '../../src/domain/devices/monitor-event.ts';
import { monitorHeaders, monitorTimeOf, parseRfc3339 } from '../../src/formats/monitor-message.ts';

describe('RFC3339 timestamps of monitor events', () => {
  it.each([
    ['2026-01-15T10:30:00Z', '2026-01-15T10:30:00Z', '2026-01-15T10:30:00.000Z'],
    ['2026-01-15T10:30:00.5Z', '2026-01-15T10:30:00.5Z', '2026-01-15T10:30:00.500Z'],
    ['2026-01-15T10:30:00.123456789Z', '2026-01-15T10:30:00.123456789Z', '2026-01-15T10:30:00.123Z'],
    ['2026-01-15T10:30:00.120000+02:00', '2026-01-15T08:30:00.12Z', '2026-01-15T08:30:00.120Z'],
    ['2026-01-15t10:30:00z', '2026-01-15T10:30:00Z', '2026-01-15T10:30:00.000Z'],
    ['2026-01-01T00:30:00-01:00', '2026-01-01T01:30:00Z', '2026-01-01T01:30:00.000Z'],
  ])('%s → %s', (text, nano, iso) => {
    const time = parseRfc3339(text);
    expect(time?.text).toBe(nano);
    expect(time?.date.toISOString()).toBe(iso);
  });

  it.each([
    'yesterday',
    '2026-01-15',
    '2026-01-15T10:30:00',
    '2026-02-30T10:00:00Z',
    '2026-13-01T10:00:00Z',
    '2026-01-15T25:00:00Z',
    '2026-01-15T10:30:00.1234567890Z',
  ])('rejects %s', (text) => {
    expect(parseRfc3339(text)).toBeUndefined();
  });

  it.each([
    '2024-02-29T23:59:59.999999999',
    '2000-02-29T00:00:00',
    '1999-12-31T23:59:59.1',
    '0050-06-01T12:00:00.000001',
    '2026-11-29T12:00:00.000',
    '2026-11-29T12:00:00.123',
    '2026-11-29T12:00:00.1',
    '2026-11-29T12:00:00.12',
    '2026-11-29T12:00:00.100000009',
    '2024-02-29T00:00:00',
    '0100-03-01T00:00:00.5',
  ])('UTC times (%s) read the same with Z as with +00:00', (text) => {
    const utc = parseRfc3339(`${text}Z`);
    expect(utc).toBeDefined();
    expect(utc?.text).toBe(parseRfc3339(`${text}+00:00`)?.text);
    expect(utc?.date.getTime()).toBe(parseRfc3339(`${text}+00:00`)?.date.getTime());
  });

  it.each(['2100-02-29T00:00:00Z', '2023-02-29T00:00:00Z', '2026-04-31T00:00:00Z', '2026-01-15T10:60:00Z'])(
    'rejects %s (not a calendar time)',
    (text) => {
      expect(parseRfc3339(text)).toBeUndefined();
    },
  );

  it.each([
    '2026-1a-15T10:30:00Z',
    '2026-01-15T10:30:00.Z',
    '2026-01-15T10:30:00.12xZ',
    '2026-01-15T10:30:0xZ',
    '2026-01-15T10-30:00Z',
    '2026-00-15T10:30:00Z',
    '2026-01-00T10:30:00Z',
    '2026-01-15T10:30:00.1234567890Z',
    '2026-01-15T10:30:00.123Zz',
  ])('rejects %s (malformed, in the fast path of devices’ own form)', (text) => {
    expect(parseRfc3339(text)).toBeUndefined();
  });

  it("keeps a device's canonical UTC text as it is, with the millisecond date", () => {
    const text = '2026-11-29T20:41:55.987654Z';
    const time = parseRfc3339(text);
    expect(time?.text).toBe(text);
    expect(time?.date.toISOString()).toBe('2026-11-29T20:41:55.987Z');
  });

  it.each([
    ['2026-11-29T20:41:55.120Z', '2026-11-29T20:41:55.12Z', '2026-11-29T20:41:55.120Z'],
    ['2026-11-29T20:41:55.000Z', '2026-11-29T20:41:55Z', '2026-11-29T20:41:55.000Z'],
    ['2026-11-29T20:41:55.100000000Z', '2026-11-29T20:41:55.1Z', '2026-11-29T20:41:55.100Z'],
    ['2026-11-29T20:41:55.000000001Z', '2026-11-29T20:41:55.000000001Z', '2026-11-29T20:41:55.000Z'],
  ])('drops the trailing zeros of %s', (text, nano, iso) => {
    const time = parseRfc3339(text);
    expect(time?.text).toBe(nano);
    expect(time?.date.toISOString()).toBe(iso);
  });

  it('formats now with milliseconds', () => {
    expect(monitorTimeOf(new Date('2026-01-15T10:30:00.250Z')).text).toBe('2026-01-15T10:30:00.25Z');
  });
});

describe('monitor events', () => {
  it('keeps id, type, symbol, timestamp and data; a missing data is an empty object', () => {
    const [event] = validateMonitorEvents([
      { id: 7, type: 'call', symbol: 's', timestamp: '2026-01-15T10:30:00Z' },
    ]);
    expect(event).toMatchObject({ id: '7', type: 'call', symbol: 's', data: {} });
    expect(event?.timestamp?.text).toBe('2026-01-15T10:30:00Z');
  });

  it.each([
    [[1], /event 0: not an object \(number\)/],
    [[{}, 'x'], /event 1: not an object \(string\)/],
    [[{ id: true }], /event 0: "id" must be a string/],
    [[{ symbol: {} }], /event 0: "symbol" must be a string/],
    [[{ timestamp: 1700000000 }], /event 0: "timestamp" must be an RFC3339/],
    [[{ n: 1 }], /^event 0: unknown field "n": an event has only id, type, timestamp, symbol and data/],
    [[{ data: {} }, { data: {}, Data: 2 }], /^event 1: unknown field "Data"/],
  ])('rejects %j naming the event', (events, message) => {
    expect(() => validateMonitorEvents(events)).toThrow(message);
  });

  it('headers: an empty id becomes the sequence', () => {
    const time = monitorTimeOf(new Date('2026-01-15T10:30:00Z'));
    expect(monitorHeaders('d1', { id: '', type: 'signal', symbol: 'x.Y' }, time, 42)).toEqual({
      'X-Monitor-Device': 'd1',
      'X-Monitor-Id': '42',
      'X-Monitor-Type': 'signal',
      'X-Monitor-Timestamp': '2026-01-15T10:30:00Z',
      'X-Monitor-Symbol': 'x.Y',
      'X-Monitor-Seq': '42',
    });
  });

  it.each(['', 'a.b', 'a*', 'a>', 'a b', 'x'.repeat(201)])('refuses the device id %j', (id) => {
    expect(() => validateDeviceId(id)).toThrow(/device id/);
  });
});
