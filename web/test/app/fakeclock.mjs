// A virtual clock for the Connection tests: setTimeout, setInterval, Date.now and
// WebCrypto (digest, random bytes) replaced by seeded stand-ins, so that a seed alone
// decides the order in which every timer of the page, the fake network and the test
// runs.  Not a *.test.mjs file: a helper.
//
// Why: the simulation's interleavings (a frame arriving before or after a flush, an
// ACK before or after a RESYNC) were made by the real event loop, so a bug that
// showed only under CPU contention could not be reproduced.  Here contention is a
// seeded input instead: at each turn of the loop the clock may jump ahead (`lag`),
// which makes many timers due at once, and they then run the way Node's timer lists
// go (a model of them, not a copy): lists by duration, each list in the order its
// timers were set, the lists by their earliest expiry -- so not always in the order
// they fell due.  A digest resolves after a seeded delay, like the thread pool's
// answer under load.
//
//   const clock = new FakeClock({ rand, lagChance: 0.2, maxLag: 12 });
//   const result = await clock.run(() => simulate(seed));
import { textDigest } from "../../src/protocol/messages.js";

const real = {
  setTimeout: globalThis.setTimeout,
  clearTimeout: globalThis.clearTimeout,
  setInterval: globalThis.setInterval,
  clearInterval: globalThis.clearInterval,
  now: Date.now,
  crypto: Object.getOwnPropertyDescriptor(globalThis, "crypto"),
};

const turn = () => new Promise((resolve) => setImmediate(resolve)); // every microtask has run

export class FakeClock {
  /**
   * @param {object} [o]
   * @param {() => number} [o.rand] a seeded random number in [0, 1)
   * @param {number} [o.lagChance] how often a turn of the loop comes late
   * @param {number} [o.maxLag] by at most this many ms
   * @param {number} [o.maxDigestDelay] a digest resolves after 0 .. this many ms
   * @param {number} [o.maxTurns] give up (a livelock) after this many turns of the loop
   */
  constructor({ rand = () => 0, lagChance = 0, maxLag = 0, maxDigestDelay = 0, maxTurns = 5e6 } = {}) {
    this.rand = rand;
    this.lagChance = lagChance;
    this.maxLag = maxLag;
    this.maxDigestDelay = maxDigestDelay;
    this.maxTurns = maxTurns;
    this.now = real.now();
    this.lists = new Map(); // duration -> timers in the order they were set
    this.nextId = 1;
    this.live = new Map(); // id -> timer, until it ran (timeouts) or was cleared
  }

  _set(fn, ms, args, repeat) {
    const duration = Math.max(1, Math.floor(Number(ms) || 0)); // as Node: under 1 ms is 1 ms
    const timer = { id: this.nextId++, fn, args, duration, due: this.now + duration, repeat };
    this._insert(timer);
    this.live.set(timer.id, timer);
    return timer.id;
  }

  _insert(timer) {
    let list = this.lists.get(timer.duration);
    if (!list) this.lists.set(timer.duration, (list = []));
    list.push(timer);
  }

  _clear(id) {
    const timer = this.live.get(id);
    if (timer) {
      timer.cleared = true;
      this.live.delete(id);
    }
  }

  /** The list to run next: the one whose first timer is due first. */
  _nextList() {
    let best = null;
    for (const list of this.lists.values()) {
      while (list.length && list[0].cleared) list.shift();
      if (!list.length) continue;
      if (best === null || list[0].due < best[0].due || (list[0].due === best[0].due && list[0].id < best[0].id)) best = list;
    }
    return best;
  }

  install() {
    const clock = this;
    globalThis.setTimeout = (fn, ms, ...args) => clock._set(fn, ms, args, false);
    globalThis.setInterval = (fn, ms, ...args) => clock._set(fn, ms, args, true);
    globalThis.clearTimeout = globalThis.clearInterval = (id) => {
      if (id !== null && id !== undefined) clock._clear(id);
    };
    Date.now = () => clock.now;
    const subtle = {
      digest: (_algorithm, bytes) =>
        new Promise((resolve) => {
          const text = new TextDecoder().decode(bytes);
          const delay = Math.floor(clock.rand() * (clock.maxDigestDelay + 1));
          globalThis.setTimeout(() => resolve(textDigest(text).slice().buffer), delay);
        }),
    };
    // random bytes (a replica's random agent name) come from the seed too
    const getRandomValues = (array) => {
      const bytes = new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
      for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(clock.rand() * 256);
      return array;
    };
    const crypto = { subtle, getRandomValues };
    Object.defineProperty(globalThis, "crypto", { value: crypto, configurable: true, enumerable: true, writable: true });
  }

  uninstall() {
    globalThis.setTimeout = real.setTimeout;
    globalThis.clearTimeout = real.clearTimeout;
    globalThis.setInterval = real.setInterval;
    globalThis.clearInterval = real.clearInterval;
    Date.now = real.now;
    Object.defineProperty(globalThis, "crypto", real.crypto);
  }

  /**
   * Run `main()` (an async function) on this clock: install it, turn the loop until the
   * promise settles, uninstall it.  Each timer runs in a turn of its own, its
   * microtasks drained before the next.
   */
  async run(main) {
    this.install();
    let settled = false;
    let outcome;
    try {
      const done = Promise.resolve()
        .then(main)
        .then(
          (value) => (outcome = { value }),
          (error) => (outcome = { error }),
        )
        .finally(() => (settled = true));
      for (let turns = 0; !settled; turns++) {
        if (turns > this.maxTurns) throw new Error(`the fake clock ran ${turns} turns without the test ending`);
        await turn();
        if (settled) break;
        const first = this._nextList();
        if (first === null) {
          // nothing scheduled: only microtasks (or real I/O) can move the test on
          continue;
        }
        const lag = this.rand() < this.lagChance ? Math.floor(this.rand() * (this.maxLag + 1)) : 0;
        this.now = Math.max(this.now, first[0].due) + lag;
        const now = this.now;
        // One turn of the timers phase: each list in order of its earliest expiry, the
        // part of it due by `now`; timers set meanwhile are due after `now`.
        for (let list = this._nextList(); list !== null && list[0].due <= now; list = this._nextList()) {
          while (list.length && (list[0].cleared || list[0].due <= now)) {
            const timer = list.shift();
            if (timer.cleared) continue;
            if (timer.repeat) {
              timer.due = now + timer.duration;
              this._insert(timer);
            } else this.live.delete(timer.id);
            timer.fn(...timer.args);
            await turn();
          }
        }
      }
      await done;
    } finally {
      this.uninstall();
    }
    if (outcome.error) throw outcome.error;
    return outcome.value;
  }
}
