import { pino, type Logger } from 'pino';

export type { Logger };

/** Structured JSON logger (one event per line). Level from MESHPILOT_LOG_LEVEL, default info. */
export function createLogger(name = 'meshpilot', level = process.env.MESHPILOT_LOG_LEVEL ?? 'info'): Logger {
  return pino({ name, level, base: { pid: process.pid } });
}

/** A logger that drops everything: for tests and library callers that pass none. */
export const silentLogger: Logger = pino({ level: 'silent' });
