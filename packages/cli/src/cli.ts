#!/usr/bin/env node
/**
 * `taskpulse-hub`: a standalone hub configured by flags, environment variables and a JSON file.
 * @module
 */
import { runCli } from './run';

runCli(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`taskpulse-hub: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
