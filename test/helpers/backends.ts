/**
 * The one list of backends the backend-parameterised tests run on (parity, trajectory, memory, learning, the CLI
 * smoke run), each with its node:test `skip` reason where it cannot run here (native not built, tfjs-node not
 * installed: see scripts/build-tfjs-node.mjs), so a run that skipped one says so instead of passing silently.
 */
import { backendUnavailable } from '../../src/model/backend-select.js';
import type { BackendName } from '../../src/model/types.js';
import { skipUnlessRequired } from './required.js';

export type TestBackend = Exclude<BackendName, 'auto'>;

/** Every concrete backend; `cpu` (the reference) first. */
export const ALL_BACKENDS = ['cpu', 'wasm', 'native', 'tensorflow'] as const satisfies readonly TestBackend[];

/** `names` (default: all), each with `skip: false` or why it cannot run here; loads each without activating it. */
export async function testBackends<B extends TestBackend>(
  names: readonly B[] = ALL_BACKENDS as readonly TestBackend[] as readonly B[],
): Promise<{ backend: B; skip: string | false }[]> {
  const out: { backend: B; skip: string | false }[] = [];
  for (const backend of names) {
    const reason = skipUnlessRequired(backend, await backendUnavailable(backend));
    out.push({ backend, skip: reason === undefined ? false : `${backend} backend unavailable: ${reason}` });
  }
  return out;
}
