// Ctrl-C / SIGTERM that end a busy process on the second signal (see stop-signals.h). Node runs JavaScript signal
// listeners from its event loop, so while a training step holds the thread a JavaScript listener cannot run, and
// with one installed the default action (ending the process) never happens either. The handler here runs in the
// signal's own context: it uses only sigaction (async-signal-safe) and calls libuv's handler, itself written for
// that context.
#include "stop-signals.h"

#include <csignal>
#include <cstring>

namespace qaft {
namespace {

constexpr int kSignals[] = {SIGINT, SIGTERM};
constexpr int kCount = sizeof(kSignals) / sizeof(kSignals[0]);
struct sigaction g_previous[kCount];

void SetDefault(int signum) {
  struct sigaction dfl;
  std::memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  sigaction(signum, &dfl, nullptr);
}

void OnStopSignal(int signum) {
  for (int s : kSignals) SetDefault(s);  // from now on the next one ends the process
  for (int i = 0; i < kCount; i++) {
    if (kSignals[i] == signum) g_previous[i].sa_handler(signum);  // libuv: wakes the event loop's listener
  }
}

bool IsPlainHandler(const struct sigaction& a) {
  return (a.sa_flags & SA_SIGINFO) == 0 && a.sa_handler != SIG_DFL && a.sa_handler != SIG_IGN;
}

}  // namespace

bool ArmStopSignals() {
  struct sigaction current[kCount];
  for (int i = 0; i < kCount; i++) {
    if (sigaction(kSignals[i], nullptr, &current[i]) != 0) return false;
    if (current[i].sa_handler == OnStopSignal) return true;  // armed already
    if (!IsPlainHandler(current[i])) return false;
  }
  struct sigaction ours;
  std::memset(&ours, 0, sizeof ours);
  ours.sa_handler = OnStopSignal;
  ours.sa_flags = SA_RESTART;
  sigemptyset(&ours.sa_mask);
  for (int s : kSignals) sigaddset(&ours.sa_mask, s);  // a second signal waits for the handler, then meets SIG_DFL
  for (int i = 0; i < kCount; i++) g_previous[i] = current[i];
  for (int s : kSignals) sigaction(s, &ours, nullptr);
  return true;
}

void DisarmStopSignals() {
  for (int i = 0; i < kCount; i++) {
    struct sigaction current;
    if (sigaction(kSignals[i], nullptr, &current) == 0 && (current.sa_flags & SA_SIGINFO) == 0 &&
        current.sa_handler == OnStopSignal) {
      sigaction(kSignals[i], &g_previous[i], nullptr);
    }
  }
}

}  // namespace qaft
