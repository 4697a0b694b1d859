/**
 * The protocol's error type and the error codes of ERROR frames, mirroring
 * src/cowrite/protocol/errors.py.
 *
 * Why its own class: a bad frame is not an engine error in the app's eyes (it is
 * answered with ERROR bad_frame, or means the server speaks another protocol), but
 * like in Python it is still a cowrite error, so it extends EngineError.
 */

import { EngineError } from '../engine/errors.js';

/** Why the server refused something (the `code` of an ERROR frame). */
export const ErrorCode = Object.freeze({
  BAD_FRAME: 1, // not a valid frame of this protocol version
  BAD_OP: 2, // a patch that does not decode or ops the engine rejects
  UNKNOWN_PARENT: 3, // ops whose parents the server does not have
  CONFLICT: 4, // an (agent, seq) the server knows with other content
  FORBIDDEN: 5, // a viewer writing, a forged agent, an agent owned by another user
  RATE_LIMITED: 6,
  TOO_LARGE: 7, // frame, batch or document over a limit
  NOT_FOUND: 8, // no such document
  UNAUTHORIZED: 9, // no valid token
  BAD_STATE: 10, // a frame that is not allowed now (e.g. OPS before JOIN), superseded
  INTERNAL: 11, // the server failed (e.g. the store); retry later
});

/** Name of an error code (`'BAD_FRAME'`...), or undefined. @param {number} code */
export function errorCodeName(code) {
  return Object.keys(ErrorCode).find((k) => ErrorCode[k] === code);
}

/**
 * Bytes that are not a valid frame, or a field value that cannot be sent.
 * `code` is the ErrorCode to answer with (BAD_FRAME unless said).
 */
export class ProtocolError extends EngineError {
  /**
   * @param {string} message
   * @param {number} [code]
   */
  constructor(message, code = ErrorCode.BAD_FRAME) {
    super(message);
    this.code = code;
  }
}
