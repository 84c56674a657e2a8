// Assembles @tensorflow/tfjs-node offline, for CI and developers, from the TensorFlow CPU wheel in the image's
// local Python index: tfjs-node's own install script would download libtensorflow 2.9.1 from outside the
// registries, which fails here. The wheel carries TensorFlow's C API (libtensorflow_cc.so.2 exports TF_/TFE_,
// beside libtensorflow_framework.so.2, headers under tensorflow/include/), which is what tfjs-node's binding
// links against. Steps: `npm install --no-save --ignore-scripts` of tfjs-node at qa-ft's tfjs-core version (no
// change to package.json or the lockfile: users keep the plain `npm install @tensorflow/tfjs-node` route), the
// libraries and C headers from the wheel into the package's deps/, node-gyp against this Node's headers, the
// binding into lib/napi-v8/, and a check that it loads and multiplies.
// Without the wheel (or off linux-x64) it says so and exits 0: the tensorflow backend's tests are then skipped.
// Run after `npm ci` (which removes node_modules, this package with it). QAFT_TF_WHEEL=<path> picks another wheel.
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  cpSync,
} from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeGypCommand } from '../native/node-gyp.mjs';

const WHEEL_DIR = '/opt/pypi/files';
const WHEEL_PATTERN = /^tensorflow_cpu-2\.21\.0-.*-manylinux.*_x86_64\.whl$/;
/** The C API headers the binding includes, and what they include in turn. */
const HEADER_DIRS = ['tensorflow/c', 'tensorflow/core/platform', 'tsl', 'xla/tsl'];
const NAPI = 8; // the highest N-API version tfjs-node's package.json lists

const started = Date.now();
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const pkgDir = path.join(root, 'node_modules', '@tensorflow', 'tfjs-node');
const say = (msg) => console.log(`qa-ft: ${msg}`);
const fail = (msg) => {
  console.error(`qa-ft: tfjs-node assembly failed: ${msg}`);
  process.exit(1);
};

const wheel = findWheel();
if (wheel === undefined) {
  say(
    `tfjs-node not assembled: no TensorFlow 2.21 CPU wheel (${WHEEL_DIR}/tensorflow_cpu-2.21.0-*.whl or QAFT_TF_WHEEL); ` +
      'the tensorflow backend is untested here and its tests are skipped',
  );
  process.exit(0);
}
if (process.platform !== 'linux' || process.arch !== 'x64') {
  say(
    `tfjs-node not assembled: the wheel is for linux-x64, this is ${process.platform}-${process.arch}; the tensorflow backend's tests are skipped`,
  );
  process.exit(0);
}

const corePkg = path.join(root, 'node_modules', '@tensorflow', 'tfjs-core', 'package.json');
if (!existsSync(corePkg)) fail('node_modules/@tensorflow/tfjs-core is missing: run `npm ci` first');
const version = JSON.parse(readFileSync(corePkg, 'utf8')).version;
const stamp = `@tensorflow/tfjs-node@${version} on ${path.basename(wheel)}\n`;
const stampFile = path.join(pkgDir, 'deps', 'ASSEMBLED-FROM');
const binding = path.join(pkgDir, 'lib', `napi-v${NAPI}`, 'tfjs_binding.node');

if (existsSync(binding) && existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp) {
  check();
  say(`@tensorflow/tfjs-node ${version} already assembled from ${path.basename(wheel)}; it loads (${seconds()} s)`);
  process.exit(0);
}

// 1. the package and its JS dependencies, at qa-ft's tfjs-core version (so both share one tfjs-core)
run(
  'npm',
  ['install', '--no-save', '--ignore-scripts', '--no-audit', '--no-fund', `@tensorflow/tfjs-node@${version}`],
  root,
);
if (!existsSync(path.join(pkgDir, 'binding.gyp'))) fail(`npm did not install @tensorflow/tfjs-node@${version}`);

// 2. libtensorflow and the C API headers from the wheel
const deps = path.join(pkgDir, 'deps');
const tmp = path.join(deps, '.wheel');
rmSync(deps, { recursive: true, force: true });
mkdirSync(tmp, { recursive: true });
const members = [
  'tensorflow/libtensorflow_cc.so.2',
  'tensorflow/libtensorflow_framework.so.2',
  ...HEADER_DIRS.map((d) => `tensorflow/include/${d}/*`),
];
extract(wheel, members, tmp);
const lib = path.join(deps, 'lib');
mkdirSync(lib);
for (const so of ['libtensorflow_cc.so.2', 'libtensorflow_framework.so.2'])
  renameSync(path.join(tmp, 'tensorflow', so), path.join(lib, so));
// tfjs-node links -ltensorflow; the wheel's C API lives in libtensorflow_cc (whose soname the binding records)
for (const [link, target] of [
  ['libtensorflow.so.2', 'libtensorflow_cc.so.2'],
  ['libtensorflow.so', 'libtensorflow_cc.so.2'],
  ['libtensorflow_framework.so', 'libtensorflow_framework.so.2'],
]) {
  symlinkSync(target, path.join(lib, link));
}
renameSync(path.join(tmp, 'tensorflow', 'include'), path.join(deps, 'include'));
rmSync(tmp, { recursive: true, force: true });

// 3. the binding, against this Node's headers (no download), into the path node-pre-gyp looks up
const gyp = nodeGypCommand();
if (!gyp.ok) fail(gyp.reason);
run(
  gyp.command,
  [
    ...gyp.args,
    'rebuild',
    '--module_name=tfjs_binding',
    `--module_path=./lib/napi-v${NAPI}`,
    `--napi_build_version=${NAPI}`,
  ],
  pkgDir,
  { quiet: true },
);
mkdirSync(path.dirname(binding), { recursive: true });
cpSync(path.join(pkgDir, 'build', 'Release', 'tfjs_binding.node'), binding);
rmSync(path.join(pkgDir, 'build', 'Release', 'obj.target'), { recursive: true, force: true });

check();
writeFileSync(stampFile, stamp);
say(
  `@tensorflow/tfjs-node ${version} assembled from ${path.basename(wheel)} (TensorFlow 2.21 C API) in ${seconds()} s`,
);

function findWheel() {
  if (process.env.QAFT_TF_WHEEL) return existsSync(process.env.QAFT_TF_WHEEL) ? process.env.QAFT_TF_WHEEL : undefined;
  if (!existsSync(WHEEL_DIR)) return undefined;
  const found = readdirSync(WHEEL_DIR)
    .filter((f) => WHEEL_PATTERN.test(f))
    .sort();
  return found.length > 0 ? path.join(WHEEL_DIR, found[found.length - 1]) : undefined;
}

/** Extracts the wheel's `members` (zip globs) with unzip, else with Python's zipfile. */
function extract(zip, globs, dest) {
  if (spawnSync('unzip', ['-v'], { stdio: 'ignore' }).status === 0) {
    run('unzip', ['-q', '-o', zip, ...globs, '-d', dest], root);
    return;
  }
  // fnmatch's * crosses '/', as unzip's does
  const py =
    'import sys, zipfile, fnmatch\nz = zipfile.ZipFile(sys.argv[1])\n' +
    'for n in z.namelist():\n  if any(fnmatch.fnmatch(n, g) for g in sys.argv[3:]): z.extract(n, sys.argv[2])\n';
  run('python3', ['-c', py, zip, dest, ...globs], root);
}

/** Loads the assembled package in a fresh Node and runs one matmul on its backend. */
function check() {
  const js =
    "const tf = require('@tensorflow/tfjs-node'); const a = tf.tensor2d([[1, 2], [3, 4]]);" +
    "const v = tf.matMul(a, a).dataSync(); if (tf.getBackend() !== 'tensorflow' || v[3] !== 22) throw new Error('wrong result ' + v);";
  const r = spawnSync(process.execPath, ['-e', js], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' },
  });
  if (r.status !== 0) fail(`the assembled package does not load: ${lastLine(r.stderr)}`);
}

function run(command, args, cwd, { quiet = false } = {}) {
  const r = spawnSync(command, args, {
    cwd,
    encoding: 'utf8',
    stdio: quiet ? 'pipe' : ['ignore', 'inherit', 'inherit'],
  });
  if (r.error) fail(`${command}: ${r.error.message}`);
  if (r.status !== 0) {
    const out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
    fail(
      `${path.basename(command)} ${args[0]} exited with ${r.status}${
        quiet
          ? `: ${lastLine(
              out
                .split('\n')
                .filter((l) => /error/i.test(l))
                .join('\n') || out,
            )}`
          : ''
      }`,
    );
  }
}

function lastLine(text) {
  return text.trim().split('\n').filter(Boolean).slice(-1)[0]?.trim() ?? '';
}

function seconds() {
  return ((Date.now() - started) / 1000).toFixed(0);
}
