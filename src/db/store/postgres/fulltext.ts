/**
 * BM25 full text in the PostgreSQL store, ranked as the embedded store ranks it (../bm25.ts:
 * Lucene's IDF, query-term frequency counted; the tokens of SQLite FTS5's `porter unicode61
 * remove_diacritics 2` table; docs/postgres.md, "Full text").
 *
 * - Tokens: a document is cut where FTS5's unicode61 cuts it (FTS5_SEPARATORS, its separator
 *   table, checked code point by code point in fulltext.test.ts), lower-cased, and handed to the
 *   text-search configuration `omnivec.fts` (PostgreSQL's default parser, `unaccent`, Snowball's
 *   original Porter stemmer — the algorithm of FTS5's `porter` — without stop words). Three
 *   rewrites before stemming bring Snowball's Porter to FTS5's: a token under 3 bytes is not
 *   stemmed, and the later step-2 rules `-logi` → `-log`, `-bli` → `-ble`.
 * - Columns kept by a trigger on each records table: `tsv` (lexemes with their positions) and
 *   `doclen` (the document's length in FTS5 tokens); `omnivec.fts_stats` holds each table's number
 *   of documents and tokens (N and avgdl of the formula), kept by statement triggers.
 * - Search: the user text becomes the terms of the embedded store's query (ftsTerms: runs of
 *   letters and digits, never parsed as query syntax, each with the number of times the text
 *   holds it), each lexised by the same pipeline; df of each term through the GIN index; the rows
 *   matching any term and the filter are scored Σ qtf·idf·tf·(k1+1) / (tf + k1·(1 − b + b·doclen/avgdl)),
 *   ../bm25.ts's constants and IDF.
 */
import { ftsQuery, ftsTerms } from '../../fusion.js';
import { BM25_B, BM25_K1, bm25Idf, fts5Idf } from '../bm25.js';

/** The text-search configuration of documents and query terms. */
export const FTS_CONFIG = 'omnivec.fts';

/**
 * The version of the tokens (fts_prep, the configuration): a table indexed by another version must
 * be re-indexed (fullTextReindexSql) before its documents and new queries agree.
 */
export const FULLTEXT_VERSION = 1;

const K1 = BM25_K1;
const B = BM25_B;
/**
 * tsvector's limits: a lexeme keeps at most 255 positions (MAXNUMPOS − 1) and positions stop at
 * 16 383 (MAXENTRYPOS − 1). A term frequency is exact up to 255 (its BM25 factor has saturated:
 * 2.1897 at 255 against 2.2 for ever more); longer documents are stored by fts_long.
 */
const MAX_POSITIONS = 255;
const MAX_POSITION = 16383;

/**
 * The code points above U+007F that FTS5's unicode61 tokenizer (`remove_diacritics 2`, SQLite's
 * Unicode 6.1 tables) treats as separators, as hexadecimal ranges; below U+0080 everything but
 * [0-9A-Za-z] separates. Generated from SQLite (a row `x<c>x` per code point: two tokens = a
 * separator); fulltext.test.ts redoes that and compares.
 */
export const FTS5_SEPARATORS =
  '80-a9 ab-b1 b4 b6-b8 bb bf d7 f7 2c2-2c5 2d2-2df 2e5-2eb 2ed 2ef-2ff 305 30d-30e 310 312-31a 31c-322 329-32c ' +
  '32f 332-36f 375 37e 384-385 387 3f6 482-489 55a-55f 589-58a 58f 591-5c7 5f3-5f4 600-604 606-61b 61e-61f ' +
  '64b-65f 66a-66d 670 6d4 6d6-6e4 6e7-6ed 6fd-6fe 700-70d 70f 711 730-74a 7a6-7b0 7eb-7f3 7f6-7f9 816-819 ' +
  '81b-823 825-827 829-82d 830-83e 859-85b 85e 8e4-8fe 900-903 93a-93c 93e-94f 951-957 962-965 970 981-983 9bc ' +
  '9be-9c4 9c7-9c8 9cb-9cd 9d7 9e2-9e3 9f2-9f3 9fa-9fb a01-a03 a3c a3e-a42 a47-a48 a4b-a4d a51 a70-a71 a75 ' +
  'a81-a83 abc abe-ac5 ac7-ac9 acb-acd ae2-ae3 af0-af1 b01-b03 b3c b3e-b44 b47-b48 b4b-b4d b56-b57 b62-b63 b70 ' +
  'b82 bbe-bc2 bc6-bc8 bca-bcd bd7 bf3-bfa c01-c03 c3e-c44 c46-c48 c4a-c4d c55-c56 c62-c63 c7f c82-c83 cbc ' +
  'cbe-cc4 cc6-cc8 cca-ccd cd5-cd6 ce2-ce3 d02-d03 d3e-d44 d46-d48 d4a-d4d d57 d62-d63 d79 d82-d83 dca dcf-dd4 ' +
  'dd6 dd8-ddf df2-df4 e31 e34-e3a e3f e47-e4f e5a-e5b eb1 eb4-eb9 ebb-ebc ec8-ecd f01-f1f f34-f3f f71-f87 ' +
  'f8d-f97 f99-fbc fbe-fcc fce-fda 102b-103e 104a-104f 1056-1059 105e-1060 1062-1064 1067-106d 1071-1074 ' +
  '1082-108d 108f 109a-109f 10fb 135d-1368 1390-1399 1400 166d-166e 1680 169b-169c 16eb-16ed 1712-1714 1732-1736 ' +
  '1752-1753 1772-1773 17b4-17d6 17d8-17db 17dd 1800-180e 18a9 1920-192b 1930-193b 1940 1944-1945 19b0-19c0 ' +
  '19c8-19c9 19de-19ff 1a17-1a1b 1a1e-1a1f 1a55-1a5e 1a60-1a7c 1a7f 1aa0-1aa6 1aa8-1aad 1b00-1b04 1b34-1b44 ' +
  '1b5a-1b7c 1b80-1b82 1ba1-1bad 1be6-1bf3 1bfc-1bff 1c24-1c37 1c3b-1c3f 1c7e-1c7f 1cc0-1cc7 1cd0-1ce8 1ced ' +
  '1cf2-1cf4 1dc0-1de6 1dfc-1dff 1fbd 1fbf-1fc1 1fcd-1fcf 1fdd-1fdf 1fed-1fef 1ffd-1ffe 2000-2064 206a-206f ' +
  '207a-207e 208a-208e 20a0-20b9 20d0-20f0 2100-2101 2103-2106 2108-2109 2114 2116-2118 211e-2123 2125 2127 2129 ' +
  '212e 213a-213b 2140-2144 214a-214d 214f 2190-23f3 2400-2426 2440-244a 249c-24e9 2500-26ff 2701-2775 2794-2b4c ' +
  '2b50-2b59 2ce5-2cea 2cef-2cf1 2cf9-2cfc 2cfe-2cff 2d70 2d7f 2de0-2e2e 2e30-2e3b 2e80-2e99 2e9b-2ef3 2f00-2fd5 ' +
  '2ff0-2ffb 3000-3004 3008-3020 302a-3030 3036-3037 303d-303f 3099-309c 30a0 30fb 3190-3191 3196-319f 31c0-31e3 ' +
  '3200-321e 322a-3247 3250 3260-327f 328a-32b0 32c0-32fe 3300-33ff 4dc0-4dff a490-a4c6 a4fe-a4ff a60d-a60f ' +
  'a66f-a67e a69f a6f0-a6f7 a700-a716 a720-a721 a789-a78a a802 a806 a80b a823-a82b a836-a839 a874-a877 a880-a881 ' +
  'a8b4-a8c4 a8ce-a8cf a8e0-a8f1 a8f8-a8fa a926-a92f a947-a953 a95f a980-a983 a9b3-a9cd a9de-a9df aa29-aa36 aa43 ' +
  'aa4c-aa4d aa5c-aa5f aa77-aa79 aa7b aab0 aab2-aab4 aab7-aab8 aabe-aabf aac1 aade-aadf aaeb-aaf1 aaf5-aaf6 ' +
  'abe3-abed fb1e fb29 fbb2-fbc1 fd3e-fd3f fdfc-fdfd fe00-fe19 fe20-fe26 fe30-fe52 fe54-fe66 fe68-fe6b feff ' +
  'ff01-ff0f ff1a-ff20 ff3b-ff40 ff5b-ff65 ffe0-ffe6 ffe8-ffee fff9-ffff 10100-10102 10137-1013f 10179-10189 ' +
  '10190-1019b 101d0-101fd 1039f 103d0 10857 1091f 1093f 10a01-10a03 10a05-10a06 10a0c-10a0f 10a38-10a3a 10a3f ' +
  '10a50-10a58 10a7f 10b39-10b3f 11000-11002 11038-1104d 11080-11082 110b0-110c1 11100-11102 11127-11134 ' +
  '11140-11143 11180-11182 111b3-111c0 111c5-111c8 116ab-116b7 12470-12473 16f51-16f7e 16f8f-16f92 1d000-1d0f5 ' +
  '1d100-1d126 1d129-1d1dd 1d200-1d245 1d300-1d356 1d6c1 1d6db 1d6fb 1d715 1d735 1d74f 1d76f 1d789 1d7a9 1d7c3 ' +
  '1eef0-1eef1 1f000-1f02b 1f030-1f093 1f0a0-1f0ae 1f0b1-1f0be 1f0c1-1f0cf 1f0d1-1f0df 1f110-1f12e 1f130-1f16b ' +
  '1f170-1f19a 1f1e6-1f202 1f210-1f23a 1f240-1f248 1f250-1f251 1f300-1f320 1f330-1f335 1f337-1f37c 1f380-1f393 ' +
  '1f3a0-1f3c4 1f3c6-1f3ca 1f3e0-1f3f0 1f400-1f43e 1f440 1f442-1f4f7 1f4f9-1f4fc 1f500-1f53d 1f540-1f543 ' +
  '1f550-1f567 1f5fb-1f640 1f645-1f64f 1f680-1f6c5 1f700-1f773 ';

/** The separator ranges as [from, to] code points, ASCII included. */
export function separatorRanges(): [number, number][] {
  const out: [number, number][] = [[0x01, 0x2f], [0x3a, 0x40], [0x5b, 0x60], [0x7b, 0x7f]];
  for (const r of FTS5_SEPARATORS.split(' ')) {
    if (r === '') continue;
    const [a, b] = r.split('-') as [string, string | undefined];
    out.push([parseInt(a, 16), parseInt(b ?? a, 16)]);
  }
  return out;
}

/** A bracket expression of PostgreSQL's regular expressions matching one separator. */
function separatorClass(): string {
  const hex = (c: number): string => (c > 0xffff ? `\\U${c.toString(16).padStart(8, '0')}` : `\\u${c.toString(16).padStart(4, '0')}`);
  return '[' + separatorRanges().map(([a, b]) => (a === b ? hex(a) : `${hex(a)}-${hex(b)}`)).join('') + ']';
}

/**
 * FTS5's porter leaves a token under 3 bytes alone; Snowball's Porter stems "as" → "a", "ay" →
 * "ai", "3s" → "3". Such a token is rewritten so that Snowball gives it back: a vowel and s / y
 * take an "e" ("as" → "ase" → "as", "ay" → "aye" → "ay": the conflations FTS5 makes too, "us" and
 * "use" are both "us"); another character and s takes U+01C2 "ǂ", a letter texts do not use and
 * unaccent leaves ("3s" → lexeme "3sǂ": no longer word stems to "3s" in FTS5 either).
 */
const NO_STEM = '\u01c2';

/** Vowels and other letters that unaccent folds to one ASCII letter (Latin-1, Latin Extended-A; y is a consonant first). */
const VOWELS = 'aeiou\\u00e0-\\u00e6\\u00e8-\\u00ef\\u00f2-\\u00f6\\u00f8-\\u00fc\\u0100-\\u0105\\u0112-\\u011b\\u0128-\\u0131\\u014c-\\u0153\\u0168-\\u0173';
const CONSONANTS = 'b-df-hj-np-rtv-z0-9\\u00e7\\u00f0\\u00f1\\u00fd-\\u00ff\\u0106-\\u0111\\u011c-\\u0127\\u0132-\\u014b\\u0154-\\u0167\\u0174-\\u017f';

/** An ASCII stem of Porter's measure m > 0: a vowel then a consonant (y is a vowel after a consonant). */
const M_GT_0 = '[a-z0-9]*(?:[aeiou][b-df-hj-np-tv-z0-9]|[b-df-hj-np-tv-xz0-9]y[b-df-hj-np-tv-z0-9])[a-z0-9]*?';

/**
 * The function `omnivec.fts_prep(t)`: a document (or query term) → the text the configuration
 * parses. FTS5's separators → one space, lower case (ICU's for text beyond ASCII when the server
 * has ICU: the database's LC_CTYPE may be C), then the rewrites for Porter (the step-2 ones only
 * when the text holds "log" / "bl": most documents are spared their regular expressions).
 */
function prepFunctionSql(icu: boolean): string {
  const lower = icu
    ? `IF octet_length(t) = length(t) THEN s := lower(t COLLATE "C"); ELSE s := lower(t COLLATE "und-x-icu"); END IF;`
    : 's := lower(t);';
  return `CREATE OR REPLACE FUNCTION omnivec.fts_prep(t text) RETURNS text LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $f$
    DECLARE s text;
    BEGIN
      ${lower}
      s := btrim(regexp_replace(s COLLATE "C", $re$${separatorClass()}+$re$, ' ', 'g'));
      s := regexp_replace(s, $re$(^| )([${VOWELS}][sy])(?= |$)$re$, $re$\\1\\2e$re$, 'g');
      s := regexp_replace(s, $re$(^| )([${CONSONANTS}]s)(?= |$)$re$, $re$\\1\\2${NO_STEM}$re$, 'g');
      IF strpos(s, 'log') > 0 THEN
        s := regexp_replace(s, $re$(^| )(${M_GT_0})log(?:y|ies|i|is)(?= |$)$re$, $re$\\1\\2log$re$, 'g');
      END IF;
      IF strpos(s, 'bl') > 0 THEN
        s := regexp_replace(s, $re$(^| )(${M_GT_0})bl(?:y|ies|i|is)(?= |$)$re$, $re$\\1\\2ble$re$, 'g');
      END IF;
      RETURN s;
    END $f$`;
}

/**
 * Statements that create, idempotently, what full text needs in the schema `omnivec`: run once
 * per database in one transaction, after `CREATE EXTENSION unaccent` (a UTF-8 database).
 */
export function fullTextSetupSql(): string[] {
  return [
    `CREATE SCHEMA IF NOT EXISTS omnivec`,
    // Snowball's "porter" (the original algorithm, as FTS5's porter) without stop words, after unaccent.
    `DO $do$
    DECLARE ua text;
    BEGIN
      IF NOT EXISTS (SELECT 1 FROM pg_ts_dict WHERE dictname = 'fts_porter' AND dictnamespace = 'omnivec'::regnamespace) THEN
        CREATE TEXT SEARCH DICTIONARY omnivec.fts_porter (TEMPLATE = snowball, Language = porter);
      END IF;
      IF NOT EXISTS (SELECT 1 FROM pg_ts_config WHERE cfgname = 'fts' AND cfgnamespace = 'omnivec'::regnamespace) THEN
        SELECT format('%I.unaccent', n.nspname) INTO ua FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'unaccent';
        IF ua IS NULL THEN RAISE EXCEPTION 'omnivec full text needs the extension unaccent: CREATE EXTENSION unaccent'; END IF;
        CREATE TEXT SEARCH CONFIGURATION omnivec.fts (PARSER = pg_catalog.default);
        EXECUTE format('ALTER TEXT SEARCH CONFIGURATION omnivec.fts ADD MAPPING FOR asciiword, word, numword, asciihword, hword, numhword,
          hword_asciipart, hword_part, hword_numpart, email, url, host, url_path, file, version, sfloat, float, int, uint
          WITH %s, omnivec.fts_porter', ua);
      END IF;
    END $do$`,
    // The prep function, with ICU's lower case if the server has ICU.
    `DO $do$
    BEGIN
      IF EXISTS (SELECT 1 FROM pg_collation WHERE collname = 'und-x-icu') THEN
        EXECUTE $p$${prepFunctionSql(true)}$p$;
      ELSE
        EXECUTE $p$${prepFunctionSql(false)}$p$;
      END IF;
    END $do$`,
    // A document's FTS5 tokens: the words fts_prep leaves between single spaces.
    `CREATE OR REPLACE FUNCTION omnivec.fts_count_tokens(p text) RETURNS integer
      LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS
      $f$SELECT CASE WHEN p = '' THEN 0 ELSE length(p) - length(replace(p, ' ', '')) + 1 END$f$`,
    // A query term's lexemes in order (several when the term is several tokens: a phrase).
    `CREATE OR REPLACE FUNCTION omnivec.fts_lexemes(term text) RETURNS text[]
      LANGUAGE sql STABLE STRICT PARALLEL SAFE AS
      $f$SELECT coalesce(array_agg(u.lexeme ORDER BY p), '{}') FROM unnest(to_tsvector('omnivec.fts', omnivec.fts_prep(term))) u, unnest(u.positions) p$f$`,
    // The tsquery of a phrase of lexemes, each quoted: never parsed as query syntax.
    `CREATE OR REPLACE FUNCTION omnivec.fts_tsquery(lex text[]) RETURNS tsquery
      LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS
      $f$SELECT string_agg('''' || replace(replace(l, chr(92), chr(92) || chr(92)), '''', '''''') || '''', ' <-> ' ORDER BY i)::tsquery
      FROM unnest(lex) WITH ORDINALITY AS x(l, i)$f$`,
    // A document of ${MAX_POSITION} tokens or more: to_tsvector would clamp its positions to ${MAX_POSITION} (later
    // occurrences of a lexeme then count once); its lexemes are counted over pieces of ${MAX_POSITIONS} tokens and
    // stored with positions 1…min(tf, ${MAX_POSITIONS}): exact term frequencies, no phrase positions.
    `CREATE OR REPLACE FUNCTION omnivec.fts_long(p text) RETURNS tsvector
      LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS
      $f$SELECT coalesce(string_agg('''' || replace(replace(x.lexeme, chr(92), chr(92) || chr(92)), '''', '''''') || ''':'
          || array_to_string(ARRAY(SELECT generate_series(1, least(x.n, ${MAX_POSITIONS})::integer)), ','), ' '), '')::tsvector
      FROM (SELECT u.lexeme, sum(cardinality(u.positions)) AS n
        FROM (SELECT regexp_split_to_array(p, ' ') AS w) a, generate_series(1, cardinality(a.w), ${MAX_POSITIONS}) AS i,
          unnest(to_tsvector('omnivec.fts', array_to_string(a.w[i:i + ${MAX_POSITIONS - 1}], ' '))) AS u
        GROUP BY u.lexeme) x$f$`,
    // A phrase's occurrences (FTS5's phrase frequency): positions of its first lexeme followed by the others in order.
    `CREATE OR REPLACE FUNCTION omnivec.fts_phrase_tf(v tsvector, lex text[]) RETURNS integer
      LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS
      $f$WITH u AS (SELECT lexeme, positions FROM unnest(ts_filter(setweight(v, 'A', lex), '{a}')))
      SELECT count(*)::integer FROM u, unnest(u.positions) x
      WHERE u.lexeme = lex[1] AND NOT EXISTS (
        SELECT 1 FROM generate_subscripts(lex, 1) i
        WHERE i > 1 AND NOT EXISTS (SELECT 1 FROM u w WHERE w.lexeme = lex[i] AND x + i - 1 = ANY (w.positions)))$f$`,
    `CREATE TABLE IF NOT EXISTS omnivec.fts_stats(tbl text PRIMARY KEY, docs bigint NOT NULL, tokens bigint NOT NULL)`,
    // Row trigger: tsv and doclen of the document (kept as they are when an update leaves the document alone).
    `CREATE OR REPLACE FUNCTION omnivec.fts_row() RETURNS trigger LANGUAGE plpgsql AS $f$
    DECLARE p text;
    BEGIN
      IF TG_OP = 'UPDATE' AND NEW.document IS NOT DISTINCT FROM OLD.document AND (OLD.document IS NULL OR OLD.doclen IS NOT NULL) THEN
        NEW.tsv := OLD.tsv;
        NEW.doclen := OLD.doclen;
      ELSIF NEW.document IS NULL THEN
        NEW.tsv := NULL;
        NEW.doclen := NULL;
      ELSE
        p := omnivec.fts_prep(NEW.document);
        NEW.doclen := omnivec.fts_count_tokens(p);
        NEW.tsv := CASE WHEN NEW.doclen < ${MAX_POSITION} THEN to_tsvector('omnivec.fts', p) ELSE omnivec.fts_long(p) END;
      END IF;
      RETURN NEW;
    END $f$`,
    // Statement triggers: the table's documents and tokens (a row has a document iff doclen is set).
    `CREATE OR REPLACE FUNCTION omnivec.fts_count() RETURNS trigger LANGUAGE plpgsql AS $f$
    DECLARE dn bigint := 0; dt bigint := 0; n bigint; t bigint;
    BEGIN
      IF TG_OP = 'TRUNCATE' THEN
        UPDATE omnivec.fts_stats SET docs = 0, tokens = 0 WHERE tbl = TG_ARGV[0];
        RETURN NULL;
      END IF;
      IF TG_OP IN ('INSERT', 'UPDATE') THEN
        SELECT count(doclen), coalesce(sum(doclen), 0) INTO n, t FROM fts_new;
        dn := n; dt := t;
      END IF;
      IF TG_OP IN ('DELETE', 'UPDATE') THEN
        SELECT count(doclen), coalesce(sum(doclen), 0) INTO n, t FROM fts_old;
        dn := dn - n; dt := dt - t;
      END IF;
      IF dn <> 0 OR dt <> 0 THEN
        UPDATE omnivec.fts_stats SET docs = docs + dn, tokens = tokens + dt WHERE tbl = TG_ARGV[0];
      END IF;
      RETURN NULL;
    END $f$`,
  ];
}

/** `s` as an SQL string literal. */
function sqlString(s: string): string {
  return `'${s.replaceAll("'", "''")}'`;
}

/**
 * Statements that give records table `table` (schema-qualified, e.g. `omnivec.c7_r`) its full-text
 * columns `tsv tsvector` and `doclen integer`, their row trigger, the GIN index and, with `counts:
 * 'triggers'` (the default), its row in `omnivec.fts_stats` kept by statement triggers. With
 * `counts: 'scan'` there are no statement triggers (Citus: a trigger on a shard cannot write
 * `omnivec.fts_stats`) and each search counts the documents and tokens itself (a scan of the table).
 * Idempotent; rows already in the table are indexed.
 */
export function fullTextDdl(table: string, cid: number, options: { counts?: 'triggers' | 'scan' } = {}): string[] {
  const key = sqlString(table);
  const count = (name: string, event: string, refs: string): string =>
    `CREATE TRIGGER ${name} AFTER ${event} ON ${table} ${refs} FOR EACH STATEMENT EXECUTE FUNCTION omnivec.fts_count(${key})`;
  const out = [
    `ALTER TABLE ${table} ADD COLUMN IF NOT EXISTS tsv tsvector, ADD COLUMN IF NOT EXISTS doclen integer`,
    ...['fts_row', 'fts_ins', 'fts_upd', 'fts_del', 'fts_trunc'].map((t) => `DROP TRIGGER IF EXISTS ${t} ON ${table}`),
    `CREATE TRIGGER fts_row BEFORE INSERT OR UPDATE OF document ON ${table} FOR EACH ROW EXECUTE FUNCTION omnivec.fts_row()`,
    `UPDATE ${table} SET document = document WHERE document IS NOT NULL AND doclen IS NULL`,
  ];
  if ((options.counts ?? 'triggers') === 'scan') {
    out.push(...fullTextDropSql(table));
  } else {
    out.push(
      `INSERT INTO omnivec.fts_stats(tbl, docs, tokens) SELECT ${key}, count(doclen), coalesce(sum(doclen), 0) FROM ${table}
        ON CONFLICT (tbl) DO UPDATE SET docs = EXCLUDED.docs, tokens = EXCLUDED.tokens`,
      count('fts_ins', 'INSERT', 'REFERENCING NEW TABLE AS fts_new'),
      count('fts_upd', 'UPDATE', 'REFERENCING OLD TABLE AS fts_old NEW TABLE AS fts_new'),
      count('fts_del', 'DELETE', 'REFERENCING OLD TABLE AS fts_old'),
      count('fts_trunc', 'TRUNCATE', ''));
  }
  out.push(`CREATE INDEX IF NOT EXISTS c${cid}_tsv ON ${table} USING gin (tsv)`);
  return out;
}

/** Statements that recompute every document's tsv and doclen (after a change of FULLTEXT_VERSION); counts follow. */
export function fullTextReindexSql(table: string): string[] {
  return [
    `UPDATE ${table} SET doclen = NULL WHERE document IS NOT NULL`,
    `UPDATE ${table} SET document = document WHERE document IS NOT NULL`,
  ];
}

/** The statement that forgets a table's counts (run with its DROP TABLE). */
export function fullTextDropSql(table: string): string[] {
  return [`DELETE FROM omnivec.fts_stats WHERE tbl = ${sqlString(table)}`];
}

/** What the search needs of a pg Pool or PoolClient. */
export interface Queryable {
  query(sql: string, params?: unknown[]): Promise<{ rows: unknown[] }>;
}

/** The terms of the embedded store's FTS5 query (ftsQuery: `"a" OR "b"`, quotes doubled inside). */
export function queryTerms(text: string): string[] {
  const match = ftsQuery(text);
  if (match === undefined) return [];
  return match.split(' OR ').map((t) => t.slice(1, -1).replaceAll('""', '"'));
}

/** FTS5's IDF (now in ../bm25.ts; kept exported for callers of this module). */
export { fts5Idf };

interface TermRow { ord: number; lex: string[]; tq: string | null; df: number | string | null; docs: number | string | null; tokens: number | string | null }

/** A query term found in the table: its lexemes (several: a phrase), tsquery and weight qtf × IDF. */
interface Term { lex: string[]; tq: string; idf: number }

/** The first pass of a multi-term query reads documents of the rarest terms up to this many × limit postings. */
const PILOT_POSTINGS = 3;

/**
 * BM25 as ../bm25.ts defines it (the SQLite store's ranking): the best `limit` slots among the
 * rows of `table` whose document has a term of `text` and which match `filter` (a boolean SQL
 * expression over `r.metadata` / `r.document`, placeholders $1…$n for `filter.params`), scores
 * higher = better, ties by the smaller slot. N, avgdl and df are the whole table's.
 *
 * Exact top-k with fewer candidates (MaxScore): a term adds less than idf·(k1+1) to any score, so
 * once `limit` rows are known to score θ or more, a row holding only terms whose bounds sum below
 * θ cannot enter. A first pass scores the rows of the rarest terms (≈ PILOT_POSTINGS × limit
 * postings); with `limit` rows it gives θ, and the second pass takes the rows of every term except
 * the commonest ones whose bounds sum to at most θ (stop words: "the", "of" are then never read).
 */
export async function bm25Search(
  client: Queryable, table: string, text: string, limit: number, filter: { sql: string; params: unknown[] },
  options: { counts?: 'triggers' | 'scan' } = {},
): Promise<{ slots: Uint32Array; scores: Float32Array }> {
  const none = { slots: new Uint32Array(0), scores: new Float32Array(0) };
  const counted = ftsTerms(text);
  const words = counted.map((t) => t.term);
  if (words.length === 0 || limit <= 0) return none;
  const rows = options.counts === 'scan' ? await termRowsByScan(client, table, words) : (await client.query(
    `WITH t AS (SELECT u.ord::integer AS ord, omnivec.fts_lexemes(u.term) AS lex FROM unnest($1::text[]) WITH ORDINALITY AS u(term, ord)),
       d AS (SELECT DISTINCT lex FROM t WHERE cardinality(lex) > 0),
       c AS (SELECT d.lex, omnivec.fts_tsquery(d.lex) AS tq FROM d)
     SELECT t.ord, t.lex, c.tq::text AS tq,
       coalesce(s.docs, (SELECT count(doclen) FROM ${table})) AS docs, coalesce(s.tokens, (SELECT sum(doclen) FROM ${table})) AS tokens,
       (SELECT count(*) FROM ${table} r WHERE r.tsv @@ c.tq) AS df
     FROM t LEFT JOIN c ON c.lex = t.lex LEFT JOIN omnivec.fts_stats s ON s.tbl = $2
     ORDER BY t.ord`,
    [words, table])).rows as TermRow[];
  const docs = Number(rows[0]?.docs ?? 0);
  if (docs === 0) return none;
  const avgdl = Number(rows[0]!.tokens) / docs;
  // One phrase per term, weighted by its count in the text: two terms of one lexeme ("flow",
  // "flows") count twice, as the analysed query "flow flow" counts in Lucene.
  const terms: (Term & { df: number })[] = [];
  for (const r of rows) {
    const df = Number(r.df ?? 0);
    if (r.tq !== null && df > 0) terms.push({ lex: r.lex, tq: r.tq, idf: counted[r.ord - 1]!.count * bm25Idf(docs, df), df });
  }
  if (terms.length === 0) return none;
  terms.sort((x, y) => y.idf - x.idf);
  const any = (ts: Term[]): string => [...new Set(ts.map((t) => `(${t.tq})`))].join(' | ');
  const run = (match: string): Promise<Hit[]> => scoreRows(client, table, terms, match, avgdl, limit, filter);
  let pilot = 0;
  for (let postings = 0; pilot < terms.length && postings < PILOT_POSTINGS * limit; pilot++) postings += terms[pilot]!.df;
  let hits = await run(any(terms.slice(0, pilot)));
  if (pilot < terms.length) {
    if (hits.length < limit) {
      hits = await run(any(terms));
    } else {
      // Rows of the first pass are scored already: the second reads the others, and the best of both are kept.
      const match = candidates(terms, pilot, hits[hits.length - 1]!.score);
      if (match !== undefined) {
        hits = [...hits, ...await run(`(${match}) & !(${any(terms.slice(0, pilot))})`)]
          .sort((x, y) => y.score - x.score || x.slot - y.slot).slice(0, limit);
      }
    }
  }
  return { slots: Uint32Array.from(hits, (h) => h.slot), scores: Float32Array.from(hits, (h) => h.score) };
}

/**
 * The terms' rows without `omnivec.fts_stats` and without a query that joins the table to anything
 * (Citus: a distributed table is not joined to a local one, nor correlated under a CTE): the
 * lexemes first, then one pass over the rows holding any term — documents and tokens of the whole
 * table, and each term's df as a filtered count (Citus pushes the aggregates to the shards).
 */
async function termRowsByScan(client: Queryable, table: string, words: string[]): Promise<TermRow[]> {
  const terms = (await client.query(
    `SELECT u.ord::integer AS ord, l.lex, CASE WHEN cardinality(l.lex) > 0 THEN omnivec.fts_tsquery(l.lex)::text END AS tq
     FROM unnest($1::text[]) WITH ORDINALITY AS u(term, ord), LATERAL (SELECT omnivec.fts_lexemes(u.term) AS lex) l ORDER BY u.ord`,
    [words])).rows as { ord: number; lex: string[]; tq: string | null }[];
  const queries = [...new Set(terms.map((t) => t.tq).filter((q): q is string => q !== null))];
  const counts = queries.map((_, i) => `count(*) FILTER (WHERE tsv @@ $${i + 1}::tsquery) AS df${i}`);
  const row = (await client.query(
    `SELECT count(doclen) AS docs, coalesce(sum(doclen), 0) AS tokens${counts.length > 0 ? ', ' + counts.join(', ') : ''} FROM ${table}`,
    queries)).rows[0] as Record<string, number | string>;
  return terms.map((t) => ({
    ord: t.ord, lex: t.lex, tq: t.tq, docs: row.docs!, tokens: row.tokens!,
    df: t.tq === null ? null : row[`df${queries.indexOf(t.tq)}`]!,
  }));
}

interface Hit { slot: number; score: number }

/**
 * A tsquery that every row scoring θ or more matches (terms by IDF, highest first), or undefined
 * when no row without one of the first `pilot` terms (the first pass's rows) can reach θ. A term adds less than its bound idf·(k1+1):
 * the commonest terms whose bounds sum to at most θ (`rest`) cannot lift a row to θ alone; a
 * remaining term is strong when its bound plus `rest` exceeds θ, weak otherwise — a row needs a
 * strong term or two weak ones (`w1 & (w2 | w3 …) | w2 & (w3 | …) …`, evaluated in the GIN index).
 */
function candidates(terms: readonly Term[], pilot: number, theta: number): string | undefined {
  const bound = (t: Term): number => t.idf * (K1 + 1) * (1 + 1e-9);
  let rest = 0;
  let n = terms.length;
  while (n > 0 && rest + bound(terms[n - 1]!) <= theta) rest += bound(terms[--n]!);
  const strong = terms.slice(0, n).filter((t) => bound(t) + rest > theta);
  const weak = terms.slice(0, n).filter((t) => bound(t) + rest <= theta);
  const clauses = [...new Set(strong.map((t) => `(${t.tq})`))];
  // A clause whose every row holds a first-pass term adds nothing.
  let outside = strong.some((t) => terms.indexOf(t) >= pilot);
  for (let i = 0; i + 1 < weak.length; i++) {
    const others = [...new Set(weak.slice(i + 1).map((t) => `(${t.tq})`))].join(' | ');
    clauses.push(`(${weak[i]!.tq}) & (${others})`);
    if (terms.indexOf(weak[i]!) >= pilot) outside = true;
  }
  return outside ? clauses.map((c) => `(${c})`).join(' | ') : undefined;
}

/** The best `limit` rows matching tsquery `match` (and the filter), scored on every term. */
async function scoreRows(
  client: Queryable, table: string, terms: Term[], match: string, avgdl: number, limit: number, filter: { sql: string; params: unknown[] },
): Promise<Hit[]> {
  // The filter's placeholders stay $1…$n; ours follow.
  const params: unknown[] = [...filter.params];
  const p = (v: unknown, cast: string): string => {
    params.push(v);
    return `$${params.length}::${cast}`;
  };
  const k = `${K1}::float8 * (1 - ${B}::float8 + ${B}::float8 * r.doclen / ${p(avgdl, 'float8')})`;
  const single = new Map<string, number>();
  const parts: string[] = [];
  for (const t of terms) {
    if (t.lex.length === 1) single.set(t.lex[0]!, (single.get(t.lex[0]!) ?? 0) + t.idf);
    else parts.push(`(SELECT ${p(t.idf, 'float8')} * f * ${K1 + 1}::float8 / (f + ${k}) FROM omnivec.fts_phrase_tf(r.tsv, ${p(t.lex, 'text[]')}) AS f)`);
  }
  if (single.size > 0) {
    // The row's postings of the query's lexemes: ts_filter keeps those setweight marked.
    const lex = p([...single.keys()], 'text[]');
    const idf = p([...single.values()], 'float8[]');
    parts.unshift(`coalesce((SELECT sum((${idf})[array_position(${lex}, u.lexeme)] * cardinality(u.positions) * ${K1 + 1}::float8
      / (cardinality(u.positions) + ${k})) FROM unnest(ts_filter(setweight(r.tsv, 'A', ${lex}), '{a}')) u), 0)`);
  }
  const res = await client.query(
    `SELECT r.slot, ${parts.join(' + ')} AS score FROM ${table} r
     WHERE r.tsv @@ ${p(match, 'tsquery')} AND (${filter.sql})
     ORDER BY score DESC, r.slot LIMIT ${p(limit, 'integer')}`, params);
  return (res.rows as { slot: number | string; score: number }[]).map((x) => ({ slot: Number(x.slot), score: x.score }));
}

/** The store's full-text provider (the shape of postgres-records.ts's FullTextProvider). */
export const bm25FullText = {
  setupSql: fullTextSetupSql(),
  ddl: fullTextDdl,
  search: bm25Search,
};
