import type { Logger } from './log.ts';
import type { Metrics } from './metrics.ts';

/** What the guard needs of `process`: its error events (a plain EventEmitter in tests). */
export interface ErrorEventSource {
  on(event: 'uncaughtException', listener: (error: Error) => void): unknown;
  on(event: 'unhandledRejection', listener: (reason: unknown) => void): unknown;
  off(event: 'uncaughtException', listener: (error: Error) => void): unknown;
  off(event: 'unhandledRejection', listener: (reason: unknown) => void): unknown;
}

/** `process_uncaught_errors_total{kind}`: errors no handler caught, which the process survived. */
export function uncaughtErrors(metrics: Metrics) {
  return metrics.counter({
    name: 'process_uncaught_errors_total',
    help: 'Errors no handler caught (kind: exception or rejection); each is logged at error with its stack and the process keeps serving.',
    labelNames: ['kind'],
  });
}

/**
 * The last line of defence of a serving process: an error that escaped every handler (most
 * likely raised for one connection) is logged at error with its stack and counted, instead of
 * stopping the process and every other client with it. It is never silent: each one is a bug to
 * fix, and `process_uncaught_errors_total` is there to alert on. Installed once the app is built
 * (a start-up failure still exits). Returns the uninstaller.
 */
export function guardProcess(source: ErrorEventSource, log: Logger, metrics: Metrics): () => void {
  const counter = uncaughtErrors(metrics);
  const onException = (error: Error) => {
    counter.inc({ kind: 'exception' });
    log.error({ err: error }, 'uncaught exception: the process keeps serving; this is a bug');
  };
  const onRejection = (reason: unknown) => {
    counter.inc({ kind: 'rejection' });
    log.error({ err: reason }, 'unhandled promise rejection: the process keeps serving; this is a bug');
  };
  source.on('uncaughtException', onException);
  source.on('unhandledRejection', onRejection);
  return () => {
    source.off('uncaughtException', onException);
    source.off('unhandledRejection', onRejection);
  };
}
