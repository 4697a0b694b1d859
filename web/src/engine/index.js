// The JS engine's public entry: everything the browser app (and tests) use.
//
// A Document is one replica (text + op log) that merges like the Python engine,
// character for character; UndoManager gives per-user undo with the engine's
// semantics; Position names a gap by a character id (stable cursors); the codecs
// speak the CWP/CWD wire formats; the errors mirror src/cowrite/errors.py.

export { Document } from './document.js';
export { UndoManager } from './undo.js';
export { Position } from './position.js';
export {
  EngineError,
  CowriteError,
  InvalidOpError,
  UnknownParentError,
  ConflictingOpError,
  ConflictError,
  UnknownVersionError,
  DecodeError,
  TooLargeError,
} from './errors.js';
export { encodePatch, decodePatch, encodeDocument, decodeDocument, FORMAT_VERSION } from './codec/index.js';
