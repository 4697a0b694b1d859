// @ts-check
/**
 * The engine's exception tree, mirroring the engine branch of src/cowrite/errors.py.
 *
 * Why: callers (the app, the session, tests) catch one base class and know the
 * document was left untouched; the subclasses say why, with the same names as the
 * Python engine so vectors and differential tests can compare error kinds.
 *
 *     EngineError (alias CowriteError)
 *      ├── InvalidOpError        an op that cannot apply at its parents, or malformed fields
 *      ├── UnknownParentError    an op names a parent version this document has never seen
 *      ├── ConflictingOpError    an (agent, seq) already known with different content (alias ConflictError)
 *      ├── UnknownVersionError   a version names ops this document does not have
 *      ├── DecodeError           bytes that are not a valid cowrite encoding
 *      └── TooLargeError         input over a limit the caller set (an inflated body), refused
 *                                before the work it would cost
 *
 * Anything else a method throws is a bug: it is never relabelled as one of these
 * (the codecs reject bad bytes by explicit checks, not by catching what breaks).
 */

/** Base of every error the engine throws deliberately. */
export class EngineError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = new.target.name;
  }
}

/** The Python name of the base class. */
export const CowriteError = EngineError;

/** An op is malformed or does not fit the document at its parent version. */
export class InvalidOpError extends EngineError {}

/**
 * An op's parents include an (agent, seq) this document does not have yet.
 * `missing` lists the unknown ids as [agent, seq] pairs.
 */
export class UnknownParentError extends EngineError {
  /**
   * @param {string} message
   * @param {Array<[string, number]>} [missing]
   */
  constructor(message, missing = []) {
    super(message);
    this.missing = missing;
  }
}

/** An (agent, seq) is already known with different content: a buggy or forged peer. */
export class ConflictingOpError extends EngineError {}

/** Short alias of ConflictingOpError. */
export const ConflictError = ConflictingOpError;

/** A version names ops that this document does not have. */
export class UnknownVersionError extends EngineError {}

/** Bytes could not be decoded as a cowrite document, patch or position. */
export class DecodeError extends EngineError {}

/**
 * Input over a limit the caller set, refused before the work it would cost: a
 * patch or document whose body (the stated inflated size of a deflated one) is
 * over `maxBytes`.  Not a DecodeError: the bytes may be perfectly valid.
 */
export class TooLargeError extends EngineError {}
