import cliProgress from "cli-progress";

export interface Progress {
  update(phase: string, done: number, total: number): void;
  stop(): void;
}

/** One bar per phase (training, calibration) on stderr; silent when stderr is not a terminal. */
export function createProgress(enabled: boolean): Progress {
  if (!enabled) return { update() {}, stop() {} };
  const multi = new cliProgress.MultiBar(
    {
      stream: process.stderr,
      format: " {phase} |{bar}| {value}/{total}",
      hideCursor: true,
      clearOnComplete: false,
      synchronousUpdate: true,
      fps: 10,
    },
    cliProgress.Presets.shades_classic,
  );
  const bars = new Map<string, cliProgress.SingleBar>();
  return {
    update(phase, done, total) {
      let bar = bars.get(phase);
      if (!bar) {
        bar = multi.create(total, 0, { phase: phase.padEnd(34) });
        bars.set(phase, bar);
      }
      bar.setTotal(total);
      bar.update(done, { phase: phase.padEnd(34) });
    },
    stop() {
      multi.stop();
    },
  };
}
