import { readFileSync } from 'node:fs';
import { OmnivecError } from '../errors.js';

/**
 * The `omnivec` command. Each command lives in its own file as the CLI grows; errors map to exit
 * codes in one table.
 */
const EXIT_CODES: Record<string, number> = {
  invalid_argument: 2,
  dimension_mismatch: 2,
  not_found: 3,
  already_exists: 4,
  corrupt_file: 5,
  unsupported_version: 5,
};

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

const HELP = `omnivec — embed anything, store and search the vectors

Usage: omnivec <command> [options]

Commands:
  version          print the version
  help             this text

More commands (database, import, query, serve, train) arrive with the next milestones.
`;

export async function main(argv: string[]): Promise<number> {
  const [cmd] = argv;
  try {
    if (cmd === undefined || cmd === 'help' || cmd === '--help' || cmd === '-h') {
      process.stdout.write(HELP);
      return 0;
    }
    if (cmd === 'version' || cmd === '--version' || cmd === '-v') {
      process.stdout.write(version() + '\n');
      return 0;
    }
    throw new OmnivecError('invalid_argument', `command: expected one of version, help, got "${cmd}"`);
  } catch (e) {
    if (e instanceof OmnivecError) {
      process.stderr.write(`omnivec: ${e.code}: ${e.message}\n`);
      return EXIT_CODES[e.code] ?? 1;
    }
    throw e;
  }
}
