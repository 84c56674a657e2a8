// How to run node-gyp offline: the copy npm runs scripts with, else the one bundled with the npm beside this node,
// with --nodedir at the headers installed beside this node binary (so no header download).
import { existsSync } from 'node:fs';
import path from 'node:path';

/** `{ ok, command, args }` to spawn node-gyp (append its subcommand and flags), or `{ ok: false, reason }`. */
export function nodeGypCommand() {
  const bin = path.dirname(process.execPath);
  const candidates = [
    process.env.npm_config_node_gyp,
    path.join(bin, '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    path.join(bin, 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ].filter((p) => p && existsSync(p));
  if (candidates.length === 0) return { ok: false, reason: 'node-gyp not found (it ships with npm)' };
  const args = [candidates[0]];
  const prefix = path.resolve(bin, '..');
  if (existsSync(path.join(prefix, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${prefix}`);
  return { ok: true, command: process.execPath, args };
}
