import { describe, expect, it } from 'vitest';
import { parseRoutingFile, RoutingFileError } from '../../src/domain/routes/routing-file.ts';

function failure(text: string): RoutingFileError {
  try {
    parseRoutingFile(text, 'routing.yaml');
  } catch (error) {
    if (error instanceof RoutingFileError) return error;
    throw error;
  }
  throw new Error('the file was accepted');
}

describe('routing file', () => {
  it('reads messageConfig.routes with the optional fields', () => {
    const routes = parseRoutingFile(
      [
        'messageConfig:',
        '  routes:',
        '    - selector: processor/state/sync',
        '      name: state_sync_store',
        '      subject: processor.state.sync',
        '      url: nats://localhost:4222',
        '      queue: sync',
        '    - selector: orders/*',
        '      subject: forward.orders',
      ].join('\n'),
      'routing.yaml',
    );
    expect(routes).toEqual([
      {
        id: 'route:state_sync_store',
        selector: 'processor/state/sync',
        subject: 'processor.state.sync',
        name: 'state_sync_store',
        url: 'nats://localhost:4222',
        queue: 'sync',
      },
      {
        id: 'route:orders/*->forward.orders',
        selector: 'orders/*',
        subject: 'forward.orders',
        name: null,
        url: null,
        queue: null,
      },
    ]);
  });

  it('accepts an empty routes list', () => {
    expect(parseRoutingFile('messageConfig:\n  routes: []\n', 'r.yaml')).toEqual([]);
  });

  it.each([
    ['messageConfig:\n  routes:\n    - selector: a/*\n\tsubject: x\n', 4, /Tabs are not allowed/],
    [
      'messageConfig:\n  routes:\n    - selector: a/*\n      subject: x\n     bad: : y\n',
      5,
      /without - indicator/,
    ],
    [
      'messageConfig:\n  routes:\n    - selector: a/*\n    - selector: b\n      subject: x.y\n',
      3,
      /"subject" is missing/,
    ],
    [
      'messageConfig:\n  routes:\n    - selector: a/*\n      subject: x.*\n',
      4,
      /wildcards are only allowed in patterns/,
    ],
    ['messageConfig:\n  routes:\n    - selector: "a b"\n      subject: x\n', 3, /white space/],
    ['routes: []\n', 1, /messageConfig/],
    ['messageConfig:\n  routes: 5\n', 2, /to be a list/],
    [
      'messageConfig:\n  routes:\n    - selector: a\n      subject: x\n    - selector: a\n      subject: x\n',
      5,
      /repeats the route "a" → "x" of line 3/,
    ],
  ])('rejects a malformed file with the line and reason (%#)', (text, line, reason) => {
    const error = failure(text);
    expect(error.line).toBe(line);
    expect(error.reason).toMatch(reason);
    expect(error.message).toContain(`line ${line}`);
  });
});
