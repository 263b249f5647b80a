/** The encoder service (docs/server.md, "Served encoders"). Placeholder: serves nothing until the real one lands. */
import { OmnivecError } from '../errors.js';
import type { Database } from '../db/database.js';
import type { EncoderService } from './context.js';

export interface EncoderServiceOptions {
  db: Database;
  dbDir: string;
  /** `--encoder NAME=MODEL`, repeatable. */
  encoders?: Record<string, string>;
  allowNetwork?: boolean;
  threads?: number;
}

export function createEncoderService(options: EncoderServiceOptions): EncoderService {
  void options;
  const none = (name: string): never => { throw new OmnivecError('not_found', `model: no served encoder is named ${JSON.stringify(name)}`); };
  return {
    list: () => Promise.resolve([]),
    info: (name) => Promise.resolve(none(name)),
    embedTexts: (name) => Promise.resolve(none(name)),
    embedImages: (name) => Promise.resolve(none(name)),
    forCollection: () => Promise.resolve({ name: undefined, reason: 'no encoders are served yet' }),
    close: () => Promise.resolve(),
  };
}
