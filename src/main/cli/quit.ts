/**
 * Quits at once by dying of the signal itself (a shell reports 130 for SIGINT). process.exit would run
 * Node's teardown, which aborts the process (Napi::Error) while an engine worker is inside an ORT run.
 */
export function quitBy(signal: NodeJS.Signals): void {
  process.removeAllListeners('SIGINT');
  process.removeAllListeners('SIGTERM');
  process.kill(process.pid, signal);
}
