/** `omnivec diversity NAME` (docs/tasks.md). Placeholder: the command lands with the task. */
import type { Command } from 'commander';
import type { Out } from './db-commands.js';

export function registerDiversityCommand(p: Command, db: () => string, out: Out): void {
  void p; void db; void out;
}
