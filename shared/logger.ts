import pino, { Logger } from 'pino';

/**
 * JSON logs. Redaction is a backstop: PHI must never be passed to the logger in the first place,
 * but if a request body or patient slips in, these paths are censored.
 */
export function createLogger(level: string, name: string): Logger {
  return pino({
    name,
    level,
    base: { service: name },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: [
        'req.headers.authorization', 'req.headers.cookie', 'body', 'password', '*.password',
        '*.firstName', '*.lastName', '*.dateOfBirth', '*.phone', '*.email', '*.address', '*.clinicalNotes',
      ],
      censor: '[redacted]',
    },
  });
}

export type { Logger };
