// Ctrl-C / SIGTERM during `qa-ft train` that work while JavaScript is busy (stop-signals.cc).
#pragma once

namespace qaft {

// After JavaScript has hooked SIGINT and SIGTERM (process.on, i.e. libuv's handler is installed): put a handler in
// front of libuv's that, on the first of the two signals, restores both to their default action and then passes
// the signal on to libuv (so the JavaScript listener still hears it once the event loop runs). The second signal
// then ends the process at once, even in the middle of a long synchronous training step. Returns false (and
// changes nothing) when a signal has no plain handler to pass on to.
bool ArmStopSignals();

// Puts libuv's handlers back where ours are still installed (nothing was received); a no-op otherwise.
void DisarmStopSignals();

}  // namespace qaft
