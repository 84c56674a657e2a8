#!/usr/bin/env node
// Entry point of the installed command: runs the compiled CLI (built by `npm install` via the `prepare` script).
import { main } from '../dist/cli.js';

process.exitCode = await main(process.argv);
