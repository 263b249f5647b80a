#!/usr/bin/env node
// The `omnivec` command: runs the compiled CLI (npm run build, done by `npm ci` through prepare).
// run() sets the exit code and ends the process quietly when stdout is closed (`| head`).
import('../dist/cli/main.js').then((m) => m.run(process.argv.slice(2)));
