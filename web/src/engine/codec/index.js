// @ts-check
/**
 * Binary encodings of a whole document (CWD) and of a patch (CWP): the package
 * API.  A port of src/cowrite/engine/codec/ (after diamond-types' list/encoding/):
 *
 * - `varint.js`   the one LEB128 and zigzag writer and reader of every cowrite
 *                 format (protocol frames and positions included);
 * - `frame.js`    magic, version, flags, deflate, CRC-32, the inflated-size limit;
 * - `columns.js`  the column pieces both encodings share;
 * - `document.js` and `patch.js`: the two encodings, each with its layout.
 *
 * Why a port and not a new format: the browser is a full peer, so it must read the
 * server's snapshots and patches and write patches the server reads, with exactly
 * the same validation.  Decoding never trusts the bytes: any input either decodes
 * to a consistent value or throws DecodeError saying what is wrong, or
 * TooLargeError when its body is over the caller's `maxBytes`.  Anything else
 * escaping a decoder is a bug.  Encoding is byte-identical to Python's.
 */

export { decodeDocument, encodeDocument, readDocument, writeDocument } from './document.js';
export { FORMAT_VERSION, READ_VERSIONS } from './frame.js';
export { decodePatch, encodePatch } from './patch.js';
