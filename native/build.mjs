// Builds the native engine (build/Release/qaft_native.node) with node-gyp against this Node's own headers.
// Links oneDNN (Debian libdnnl-dev) when its header is there, for the bf16 matmuls; QAFT_DNNL=0 builds without.
// On Linux the kernels are compiled for this machine's CPU (-march=native: AVX2/AVX-512 vector loops), since the
// addon is built where it runs; QAFT_MARCH=x86-64-v3 (any -march value) builds for other machines, none for the
// compiler's default target.
// `--optional` (the npm install hook): never fails; without a BLAS or a compiler it prints one line and exits 0,
// and qa-ft runs on its other backends. QAFT_NATIVE_REQUIRED=1 (CI) makes the hook strict: a failed build fails
// the install.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeGypCommand } from './node-gyp.mjs';

const optional = process.argv.includes('--optional') && process.env.QAFT_NATIVE_REQUIRED !== '1';
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const note = (msg) =>
  console.log(
    `qa-ft: native engine not built (${msg}); the cpu/wasm backends still work. ` +
      'To enable it: install OpenBLAS (apt-get install libopenblas-dev) and a C++ toolchain, then `npm run build:native`.',
  );

function fail(msg) {
  if (optional) {
    note(msg);
    process.exit(0);
  }
  console.error(`qa-ft: native build failed: ${msg}`);
  process.exit(1);
}

if (process.platform === 'linux') {
  const dirs = ['x86_64-linux-gnu', 'aarch64-linux-gnu'].map((a) => `/usr/include/${a}/openblas-pthread`);
  dirs.push('/usr/include/openblas', '/usr/include');
  if (!dirs.some((d) => existsSync(path.join(d, 'cblas.h')))) fail('no OpenBLAS header cblas.h found');
  const dnnl = process.env.QAFT_DNNL !== '0' && existsSync('/usr/include/oneapi/dnnl/dnnl.h');
  process.env.QAFT_DNNL = dnnl ? '1' : '0'; // read by binding.gyp
  if (!dnnl)
    console.log(
      `qa-ft: building without oneDNN (${process.env.QAFT_DNNL === '0' ? 'QAFT_DNNL=0' : 'apt-get install libdnnl-dev for it'}): no bf16 matmuls`,
    );
} else if (process.platform !== 'darwin') {
  fail(`no BLAS configuration for ${process.platform}`);
}

// node-gyp offline, against the headers installed beside this node binary (so the build needs no download)
const gyp = nodeGypCommand();
if (!gyp.ok) fail(gyp.reason);
const args = [...gyp.args, 'rebuild'];

const r = spawnSync(gyp.command, args, { cwd: root, encoding: 'utf8', stdio: optional ? 'pipe' : 'inherit' });
if (r.status !== 0) {
  const tail = `${r.stdout ?? ''}${r.stderr ?? ''}`
    .trim()
    .split('\n')
    .filter((l) => /error/i.test(l))
    .slice(-1)[0];
  fail(tail ? tail.trim() : `node-gyp exited with ${r.status}`);
}
if (optional) console.log('qa-ft: native engine built (build/Release/qaft_native.node)');
