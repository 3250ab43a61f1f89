/** A sleep that can be cut short: a watch loop waits out its backoff, and stopping it wakes the loop at once. */
export class WakeableSleep {
  private wakeUp: (() => void) | undefined;

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wakeUp = undefined;
        resolve();
      }, ms);
      this.wakeUp = () => {
        clearTimeout(timer);
        this.wakeUp = undefined;
        resolve();
      };
    });
  }

  /** Ends the current sleep now (nothing when none is running). */
  wake(): void {
    this.wakeUp?.();
  }
}
