/**
 * Ctrl-C (SIGINT) and SIGTERM during `qa-ft train`: the first asks the training loop to stop after the current step
 * (it saves a checkpoint and releases `--out`); the second ends the process at once, even in the middle of a long
 * step. A JavaScript listener runs only when the event loop gets a turn, which a synchronous training step does not
 * give, so the second signal cannot rely on one: the native addon's handler restores the default action in the
 * signal handler itself (native/stop-signals.cc). Without the addon the listener restores it when it runs, which
 * the loop lets happen between steps and micro-batches.
 */
import { loadAddon } from '../engine/addon.js';

const SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];

/**
 * Hooks SIGINT and SIGTERM: `onFirst` runs once, for the first of them; from then on both have their default action.
 * Returns the function that unhooks them (and restores the defaults) when training is over.
 */
export function hookStopSignals(onFirst: () => void): () => void {
  const loaded = loadAddon();
  const addon = 'addon' in loaded ? loaded.addon : undefined;
  let first = true;
  const unhook = (): void => {
    addon?.disarmStopSignals();
    // the last listener gone, Node (libuv) puts the default action back: a second signal ends the process
    for (const s of SIGNALS) process.off(s, handler);
  };
  function handler(): void {
    unhook();
    if (!first) return;
    first = false;
    onFirst();
  }
  for (const s of SIGNALS) process.on(s, handler);
  addon?.armStopSignals();
  return unhook;
}
