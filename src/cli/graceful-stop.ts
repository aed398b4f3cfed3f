/**
 * Clean stops for long drivers (sweep, search): the first SIGINT/SIGTERM aborts the run's work
 * (evaluations' process groups are killed, the journal stays whole) instead of the CLI's
 * immediate exit; a second one restores the CLI's handlers and re-raises.
 */
/** Anything with a finish() that ends a progress line before the message is printed. */
interface Finishable {
  finish(): void;
}

export function gracefulSignals(onFirst: (sig: NodeJS.Signals) => void): () => void {
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];
  const saved = new Map(signals.map((s) => [s, process.listeners(s)]));
  let restored = false;
  const restore = () => {
    if (restored) return;
    restored = true;
    for (const s of signals) {
      process.removeListener(s, handler);
      for (const l of saved.get(s)!) process.on(s, l as NodeJS.SignalsListener);
    }
  };
  let hits = 0;
  const handler = (sig: NodeJS.Signals) => {
    if (hits++ === 0) return onFirst(sig);
    restore();
    process.kill(process.pid, sig);
  };
  for (const s of signals) {
    process.removeAllListeners(s);
    process.on(s, handler);
  }
  return restore;
}

export interface GracefulStop {
  /** Aborted on the first signal: pass it to the driver. */
  signal: AbortSignal;
  /** The exit code for an interrupted run: 143 after SIGTERM, else 130. */
  exitCode(): number;
  /** Put the CLI's own handlers back. */
  restore(): void;
}

/** Arm a clean stop for a driver run. */
export function gracefulStop(progress: Finishable | undefined): GracefulStop {
  const ac = new AbortController();
  let stoppedBy: NodeJS.Signals | null = null;
  const restore = gracefulSignals((sig) => {
    stoppedBy = sig;
    progress?.finish();
    process.stderr.write(`mergelens: ${sig} — stopping the running evaluations (again to quit at once); re-run the same command to resume\n`);
    ac.abort();
  });
  return { signal: ac.signal, exitCode: () => (stoppedBy === 'SIGTERM' ? 143 : 130), restore };
}
