// @ts-check
/**
 * Summaries: every op id a replica has, in a form a peer can compare without our
 * graph.  A port of src/cowrite/engine/summary.py.
 *
 * A frontier names a version only to a replica that has all of its ops.  A
 * reconnecting peer may lack some of ours and we some of its, so they exchange a
 * *summary* instead: `{agent: [[firstSeq, endSeq], ...]}`, each agent's known seqs
 * as sorted, disjoint, coalesced ranges.  From a peer's summary a replica finds
 * exactly the ops the peer lacks (`Document.opsMissingFrom`).
 *
 * A summary from the network is untrusted: `normalizeSummary` checks it and brings
 * it to its one canonical form.  The protocol (protocol/messages.js) checks a
 * frame's summary with its own error class and messages, but with the same rule
 * (`isSeqRange`) and the same canonical form (`mergeRanges`).
 */

import { bisectRight } from './causalGraph.js';
import { InvalidOpError } from './errors.js';
import { MAX_SEQ } from './limits.js';

/** @typedef {Object<string, Array<[number, number]>>} Summary */

/**
 * Whether `r` is a valid summary range `[first, end]`: integers, `0 <= first < end <= 2**53`.
 * @param {unknown} r
 * @returns {r is [number, number]}
 */
export function isSeqRange(r) {
  return (
    Array.isArray(r) &&
    r.length === 2 &&
    Number.isInteger(r[0]) &&
    Number.isInteger(r[1]) &&
    r[0] >= 0 &&
    r[0] < r[1] &&
    r[1] <= MAX_SEQ
  );
}

/**
 * Valid ranges sorted and coalesced (overlapping or touching ranges merge).
 * @param {Array<[number, number]>} ranges
 * @returns {Array<[number, number]>}
 */
export function mergeRanges(ranges) {
  const pairs = ranges.map((r) => /** @type {[number, number]} */ ([r[0], r[1]]));
  pairs.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  /** @type {Array<[number, number]>} */
  const merged = [];
  for (const [a, b] of pairs) {
    const last = merged[merged.length - 1];
    if (last && a <= last[1]) last[1] = Math.max(b, last[1]);
    else merged.push([a, b]);
  }
  return merged;
}

/**
 * Set `obj[key] = value` as an own enumerable property, even for a key such as
 * `__proto__` (an agent may be called that).
 * @param {object} obj
 * @param {string} key
 * @param {unknown} value
 */
export function setOwn(obj, key, value) {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * A peer's summary checked and normalised: each agent's ranges sorted and
 * coalesced (a prototype-less object).  Throws InvalidOpError.
 * @param {unknown} summary
 * @returns {Summary}
 */
export function normalizeSummary(summary) {
  const shape = 'a summary maps agent names to lists of [firstSeq, endSeq] ranges';
  if (summary === null || typeof summary !== 'object' || Array.isArray(summary)) throw new InvalidOpError(shape);
  const clean = Object.create(null);
  const obj = /** @type {Object<string, unknown>} */ (summary);
  for (const agent of Object.keys(obj)) {
    const runs = obj[agent];
    if (!Array.isArray(runs)) throw new InvalidOpError(shape);
    for (const r of runs) {
      if (!isSeqRange(r)) throw new InvalidOpError(`bad summary range ${JSON.stringify(r)} for agent ${JSON.stringify(agent)}`);
    }
    Object.defineProperty(clean, agent, { value: mergeRanges(runs), enumerable: true });
  }
  return clean;
}

/** A (normalised) summary answering `knownRun` like a causal graph does. */
export class SummaryIds {
  /** @param {Summary} summary */
  constructor(summary) {
    /** @type {Map<string, number[]>} */
    this.starts = new Map();
    /** @type {Map<string, number[]>} */
    this.ends = new Map();
    for (const agent of Object.keys(summary)) {
      this.starts.set(agent, summary[agent].map((r) => r[0]));
      this.ends.set(agent, summary[agent].map((r) => r[1]));
    }
  }

  /**
   * How many seqs from `seq` on the summary has for `agent` (0 if it lacks `seq`).
   * @param {string} agent
   * @param {number} seq
   */
  knownRun(agent, seq) {
    const ss = this.starts.get(agent);
    if (ss === undefined) return 0;
    const i = bisectRight(ss, seq) - 1;
    const ends = /** @type {number[]} */ (this.ends.get(agent));
    if (i < 0 || seq >= ends[i]) return 0;
    return ends[i] - seq;
  }
}
