/** `omnivec cluster | outliers | dedupe NAME` (docs/tasks.md). Placeholder: the commands land with the tasks. */
import type { Command } from 'commander';
import type { Out } from './db-commands.js';

export function registerClusterCommands(p: Command, db: () => string, out: Out): void {
  void p; void db; void out;
}
