import { pino, type Logger } from 'pino';

/**
 * Structured logs (pino). Credentials never reach a log line: the paths below are
 * censored wherever an object that may carry them is logged.
 */
export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      name: 'switchboard',
      level,
      redact: {
        paths: [
          'headers.authorization',
          'headers["x-auth-token"]',
          'headers["x-cloudcix-token"]',
          '*.headers.authorization',
          '*.password',
          '*.secret',
          '*.clientSecret',
          '*.client_secret',
          '*.api_key',
          '*.privateKey',
          'config.platforms.*.clientSecret',
          'config.platforms.*.password',
          'config.platforms.*.apiKey',
          'config.platforms.*.privateKey',
        ],
        censor: '[redacted]',
      },
    },
    destination as never,
  );
}
