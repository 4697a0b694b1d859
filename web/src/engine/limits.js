// @ts-check
/**
 * Every numeric bound of the engine's data, named once: a port of
 * src/cowrite/engine/limits.py.
 *
 * Why bounds at all: ids, positions and times travel between peers and are stored
 * for ever; each has one valid range so that every implementation (the Python
 * engine, this port, a peer's) accepts exactly the same values.  2**53 is the
 * largest integer a JavaScript number holds exactly, so no seq, time or position
 * may reach it.  The codecs, the op log, positions and the protocol import these
 * instead of spelling the numbers again.
 */

/** Seqs are below this: an op run `seq .. seq + span - 1` has `seq + span <= MAX_SEQ`. */
export const MAX_SEQ = 2 ** 53;

/** Op times (Unix seconds; 0 = unknown) are below this. */
export const MAX_TIME = 2 ** 53;

/**
 * Numbers are exact up to this (2**53).  An op's position plus its span must not
 * exceed it: JS-only (Python's ints are unbounded), and no real text comes close.
 */
export const MAX_SAFE = 2 ** 53;

/** An agent name has 1..MAX_AGENT_LEN code points. */
export const MAX_AGENT_LEN = 256;

/** The longest LEB128 varint the codecs read (values up to 2**70). */
export const MAX_VARINT_BYTES = 10;

/** The longest varint seq a CWC position may carry (as in Python's positions.py). */
export const MAX_POSITION_SEQ_BYTES = 9;

/** Deflate cannot expand data by more than ~1032x: a body claiming more is a lie. */
export const MAX_DEFLATE_RATIO = 1040;

/**
 * Graph entries a document decoder may walk to check that merge parents form a
 * frontier (plus 64 per entry): a forged file cannot make decoding quadratic.
 */
export const REDUCE_BUDGET = 1_000_000;
