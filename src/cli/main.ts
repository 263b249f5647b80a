import { readFileSync, realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { Command, CommanderError, Option } from 'commander';
import { OmnivecError, type ErrorCode } from '../errors.js';
import { MAX_K } from '../checks.js';
import { releaseHeldLocksSync } from '../db/lock.js';
import { endProgressLines } from './progress.js';
import {
  dbDir, stdout, cmdCreate, cmdList, cmdInfo, cmdDrop, cmdImport, cmdExport, cmdQuery, cmdGet, cmdDelete,
  cmdVerify, cmdCompact, cmdMigrate, type MigrateOpts, cmdEvaluate, type Out,
} from './db-commands.js';
import { registerTrainCommands } from './train-commands.js';
import { registerItem2VecCommands } from './item2vec-commands.js';
import { registerRecsysCommands } from './recommend-command.js';
import { registerSifCommands } from './sif-commands.js';
import { registerEncodeCommands } from './encode-commands.js';
import { registerEmbedCommands } from './embed-commands.js';
import { registerClassify } from './classify-command.js';
import { registerProjectCommand } from './project-command.js';
import { registerServeCommand } from './serve-command.js';
import { registerDemoCommand } from './demo-command.js';
import { registerClusterCommands } from './cluster-commands.js';
import { registerDiversityCommand } from './diversity-command.js';
import { registerFieldIndexCommand } from './field-index-command.js';
import { registerEvalCommands, registerWordCommands } from './eval-commands.js';

/**
 * The `omnivec` command. Errors map to exit codes in one table (docs/cli.md); usage errors exit 2.
 */
export const EXIT_CODES: Record<ErrorCode, number> = {
  invalid_argument: 2,
  dimension_mismatch: 2,
  invalid_json: 2,
  not_found: 3,
  already_exists: 4,
  corrupt_file: 5,
  unsupported_version: 5,
  locked: 6,
  read_only: 6,
  encoder_error: 7,
  not_trained: 8,
  empty_index: 8,
  capacity_exceeded: 9,
  unavailable: 10,
  interrupted: 130,
  // The server's own codes; a CLI command meets them only through a library call that reports one.
  unauthorized: 1,
  forbidden: 1,
  method_not_allowed: 1,
  payload_too_large: 1,
  unsupported_media_type: 1,
  shutting_down: 1,
  internal: 1,
};

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function program(out: Out, setCode: (c: number) => void): Command {
  const p = new Command('omnivec')
    .description('embed anything, store and search the vectors')
    .version(version(), '-v, --version')
    .addOption(new Option('--db <location>', 'database: a directory, or a postgres://user@host:port/db URL').env('OMNIVEC_DB').default('./omnivec-data'))
    .showHelpAfterError('(run omnivec help for the commands)')
    .exitOverride()
    .configureOutput({ writeOut: (s) => process.stdout.write(s), writeErr: (s) => process.stderr.write(s) });
  const db = (): string => dbDir(p.opts<{ db?: string }>().db);

  const indexOptions = (c: Command): Command => c
    .option('--metric <metric>', 'l2 | ip | cosine (default cosine)')
    .option('--index <kind>', 'flat | ivf | hnsw | auto (default auto: flat below 10,000 records, HNSW above)')
    .option('--index-dims <n>', 'Matryoshka funnel: index only the first n dimensions, re-rank with all')
    .option('--m <n>', 'HNSW: links per node (default 16)')
    .option('--ef-construction <n>', 'HNSW: candidate list while building (default 200)')
    .option('--ef-search <n>', 'HNSW: default candidate list while searching (default 64)')
    .option('--n-list <n>', 'IVF: number of lists (default 4·√n)')
    .option('--n-probe <n>', 'IVF: lists scanned per query')
    .option('--quantization <q>', 'none | int8 | binary | pq (IVF only): compressed codes in the index, re-scored with the float vectors (default none)')
    .option('--rescore <r>', 'quantised indexes: re-rank the best r × k candidates by exact distance')
    .option('--pq-m <m>', 'IVF-PQ: sub-quantisers, 8 bits each (dim must be divisible by m)')
    .option('--threads <n>', 'worker threads for building the index (default: every core)')
    .option('--shard-by <how>', 'Citus: collection (its tables on one node; default) or id (records spread over every node)');

  indexOptions(p.command('create <name>').description('create a collection')
    .requiredOption('--dim <d>', 'vector dimension'))
    .option('--tokenize <tokenizer>', 'FTS5 tokenizer for documents (default "porter unicode61 remove_diacritics 2"; "trigram" for Chinese)')
    .option('--encoder <model>', 'bind the collection to an encoder (records from another model are refused)')
    .action((name: string, o) => cmdCreate(db(), name, o, out));
  p.command('list').description('list the collections: name, dim, metric, index, count')
    .option('--json', 'print JSON').action((o) => cmdList(db(), o, out));
  p.command('info <name>').description('show a collection')
    .option('--json', 'print JSON: name, dim, metric, index, count, ...').action((name: string, o) => cmdInfo(db(), name, o, out));
  p.command('drop <name>').description('delete a collection and its index').action((name: string) => cmdDrop(db(), name, out));
  indexOptions(p.command('import <name> <file>')
    .description('import records (jsonl, csv, npy, fvecs, word2vec text/binary, projector tsv); creates the collection when missing')
    .option('--format <format>', 'jsonl | csv | npy | fvecs | word2vec | word2vec-binary | projector (default: from the file name)')
    .option('--metadata <file>', 'projector: the metadata.tsv beside vectors.tsv')
    .option('--dim <d>', 'dimension, when creating the collection from a file that does not state it')
    .option('--upsert', 'replace records whose id is already stored instead of refusing them')
    .option('--limit <n>', 'import at most n records')
    .option('--skip <n>', 'skip the first n records of the file (to continue an interrupted import)')
    .option('--batch <n>', 'records per commit (default 4096): each batch is one transaction and its index update'))
    .action((name: string, file: string, o) => cmdImport(db(), name, file, o, out));
  p.command('export <name>').description('export records')
    .option('--format <format>', 'jsonl | projector (default jsonl)')
    .option('--out <path>', 'jsonl: the file (default stdout); projector: the directory for vectors.tsv and metadata.tsv')
    .action((name: string, o) => cmdExport(db(), name, o, out));
  p.command('query <name>').description('nearest records to a vector, a stored record, a text, or a batch of vectors')
    .option('--vector <numbers>', 'the query vector: "0.1,0.2,..." or a JSON array')
    .option('--id <id>', 'neighbours of a stored record')
    .option('--text <text>', 'text encoded by the collection\'s encoder into the query vector (needs a bound encoder)')
    .option('--full-text <text>', 'BM25 query over the documents; with --vector, --id or --text, fused (RRF)')
    .option('--vectors <file>', 'a batch of queries (.fvecs); write the neighbour ids with --out')
    .option('--out <file>', 'with --vectors: the .ivecs file for the neighbour ids')
    .option('--where <json>', 'metadata filter, e.g. \'{"year": {"$gte": 2000}}\'')
    .option('--where-document <json>', 'document filter, e.g. \'{"$contains": "space"}\'')
    .option('-k, --k <k>', `number of neighbours, 1 to ${MAX_K} (default 10)`)
    .option('--ef-search <n>', 'HNSW candidate list')
    .option('--n-probe <n>', 'IVF lists to scan')
    .option('--rescore <r>', 'quantised indexes: candidates re-scored, as a multiple of k')
    .option('--threads <n>', 'with --vectors: worker threads answering the batch (default: every core)')
    .option('--json', 'print JSON')
    .action((name: string, o) => cmdQuery(db(), name, o, out));
  p.command('get <name> [ids...]').description('print records by id or filter (JSON lines)')
    .option('--where <json>', 'metadata filter').option('--where-document <json>', 'document filter')
    .option('--limit <n>', 'at most n records').option('--offset <n>', 'skip n records')
    .option('--vectors', 'include the vectors').option('--json', 'print one JSON array')
    .action((name: string, ids: string[], o) => cmdGet(db(), name, ids, o, out));
  p.command('delete <name> [ids...]').description('delete records by id and / or filter')
    .option('--where <json>', 'metadata filter').option('--where-document <json>', 'document filter')
    .action((name: string, ids: string[], o) => cmdDelete(db(), name, ids, o, out));
  p.command('verify [name]').description('check the records, the snapshots and the index against the records; exit 1 on a problem')
    .option('--json', 'print JSON')
    .action(async (name: string | undefined, o) => { if (!(await cmdVerify(db(), name, o, out))) setCode(1); });
  p.command('compact [name]').description('rebuild indexes from the records, reclaim deleted space')
    .option('--drop-invalid', 'delete the records whose stored vector holds a non-finite value (verify lists them)')
    .option('--threads <n>', 'worker threads for rebuilding the indexes (default: every core)')
    .action((name: string | undefined, o: { dropInvalid?: boolean; threads?: string }) => cmdCompact(db(), name, o, out));
  p.command('migrate [names...]').description('copy collections (all when none is named) to another database: a directory or a postgres:// URL, either way')
    .requiredOption('--to <location>', 'the destination database (a directory or postgres://user@host:port/db)')
    .option('--from <location>', 'the source database (default: --db)')
    .option('--batch <n>', 'records per transaction (default 4096)')
    .action((names: string[], o: MigrateOpts) => cmdMigrate(db(), names, o, out));
  p.command('evaluate <name>').description('recall@k of the index against exact search on a sample of its own vectors')
    .option('--sample <n>', 'queries (default 1000)').option('-k, --k <k>', `neighbours per query, 1 to ${MAX_K} (default 10)`)
    .option('--ef-search <n>', 'HNSW candidate list').option('--n-probe <n>', 'IVF lists to scan')
    .option('--json', 'print JSON')
    .action((name: string, o) => cmdEvaluate(db(), name, o, out));
  const train = p.command('train').description('train embeddings: word2vec, item2vec, sif, youtube-dnn, two-tower');
  registerTrainCommands(train, db, out);
  registerItem2VecCommands(train, p, out);
  registerRecsysCommands(train, p, out);
  const evalCmd = registerEvalCommands(p, out);
  registerWordCommands(p, out);
  registerSifCommands(train, evalCmd, out);
  registerEncodeCommands(p, out);
  registerEmbedCommands(p, out);
  registerClassify(p, out);
  registerProjectCommand(p, out);
  registerServeCommand(p, db, out);
  registerDemoCommand(p, db, out);
  registerClusterCommands(p, db, out);
  registerDiversityCommand(p, db, out);
  registerFieldIndexCommand(p, db, out);
  p.command('version').description('print the version').action(() => out.line(version()));
  p.command('help [command]').description('help on a command').action((cmd: string | undefined) => {
    const c = cmd === undefined ? undefined : p.commands.find((x) => x.name() === cmd);
    (c ?? p).outputHelp();
  });
  return p;
}

/** What a CLI user can do about an error the library words for any caller. */
function cliAdvice(e: OmnivecError): string {
  if (e.code === 'locked' && /another writer/.test(e.message)) {
    return '; read commands (list, info, get, query, export, evaluate) work while it writes — wait for it to finish before writing';
  }
  if (e.code === 'read_only' && /not writable/.test(e.message) && !/read commands/.test(e.message)) {
    return '; read commands (list, info, get, query, export, evaluate, verify) still work; to write, use a directory you may write to (copy it, or run as its owner)';
  }
  return '';
}

const FILE_ERRNO = new Set(['EACCES', 'EPERM', 'EROFS']);

/** Runs the CLI; returns the exit code. */
export async function main(argv: string[], out: Out = stdout): Promise<number> {
  let code = 0;
  const p = program(out, (c) => { code = c; });
  if (argv.length === 0) { p.outputHelp(); return 0; }
  try {
    await p.parseAsync(argv, { from: 'user' });
    return code;
  } catch (e) {
    endProgressLines();
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
      return 2;
    }
    if (e instanceof OmnivecError) {
      process.stderr.write(`omnivec: ${e.code}: ${e.message}${cliAdvice(e)}\n`);
      return EXIT_CODES[e.code];
    }
    const errno = e as NodeJS.ErrnoException;
    if (typeof errno.code === 'string' && FILE_ERRNO.has(errno.code) && typeof errno.path === 'string') {
      // A file or directory the user may not write (or read): say which, not a stack trace.
      process.stderr.write(`omnivec: read_only: ${errno.path}: ${errno.code === 'EROFS' ? 'on a read-only file system' : 'permission denied'} (${errno.code}, ${errno.syscall ?? 'access'})\n`);
      return EXIT_CODES.read_only!;
    }
    process.stderr.write(`omnivec: ${(e as Error).stack ?? String(e)}\n`);
    return 1;
  } finally {
    endProgressLines();
  }
}

/**
 * Standard output closed by its reader (`omnivec get words | head -2`): end quietly with exit 0,
 * as git and jq do; any other failure to write it is reported (exit 1). Either way the process
 * exits at once: the output cannot go anywhere. A writer's LOCK is removed first (the committed
 * writes are safe; SQLite rolls back one in flight). Errors writing stderr are ignored.
 */
export function guardOutput(stream: NodeJS.WriteStream = process.stdout, exit: (code: number) => void = (c) => process.exit(c)): void {
  let failed = false;
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (failed) return;
    failed = true;
    endProgressLines();
    releaseHeldLocksSync();
    if (e.code === 'EPIPE' || e.code === 'ERR_STREAM_DESTROYED') { exit(0); return; }
    try { process.stderr.write(`omnivec: standard output: ${e.code !== undefined ? `${e.code}: ` : ''}${e.message.replace(/^\w+: /, '')}\n`); } catch { /* stderr gone too */ }
    exit(1);
  });
}

/** The `omnivec` process: bin/omnivec.js (and `node --import tsx src/cli/main.ts ...`) run this. */
export async function run(argv: string[] = process.argv.slice(2)): Promise<void> {
  guardOutput(process.stdout);
  process.stderr.on('error', () => { /* nowhere left to report it */ });
  process.exitCode = await main(argv);
}

// Run directly (`node --import tsx src/cli/main.ts ...`, `node dist/cli/main.js ...`).
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(realpathOr(process.argv[1])).href) await run();

function realpathOr(p: string): string {
  try { return realpathSync(p); } catch { return p; }
}
