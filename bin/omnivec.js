#!/usr/bin/env node
// The `omnivec` command: runs the compiled CLI (npm run build, done by `npm ci` through prepare).
import('../dist/cli/main.js').then((m) => m.main(process.argv.slice(2))).then((code) => {
  process.exitCode = code;
});
