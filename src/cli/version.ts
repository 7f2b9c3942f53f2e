// The version: replaced at bundle time; read from package.json when running from the sources.
import { readFileSync } from 'node:fs';

declare const CTSYNC_VERSION: string | undefined;

function fromPackage(): string {
  try {
    return JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version;
  } catch {
    return 'unknown';
  }
}

export const VERSION: string = typeof CTSYNC_VERSION === 'string' ? CTSYNC_VERSION : fromPackage();
