/**
 * The generation of everything a synchronous answer depends on: the hosts and mesh tables, the
 * forward rules and the cache's contents as a whole. The native reply memo keeps an answer only for
 * the epoch it was given in (native/udp-batch/reply_memo.h); a reload or a cache flush bumps it, so no
 * remembered answer outlives the tables it came from. Shared with the addon as a one-word array.
 */
export class AnswerEpoch {
  readonly cell = new Uint32Array(1);

  constructor() {
    this.cell[0] = 1;
  }

  get value(): number {
    return this.cell[0]!;
  }

  bump(): void {
    // 0 means "empty" to the memo: wrap from 2^32-1 to 1.
    this.cell[0] = this.cell[0] === 0xffffffff ? 1 : this.cell[0]! + 1;
  }
}
