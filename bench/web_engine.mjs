// The JS engine (web/src/engine) beside Yjs, in one Node process, on the same traces.
//
//   node --expose-gc bench/web_engine.mjs [--repeat 5] [--traces a,b,...] [--cold N [--cold-settle MS]] [--json]
//
// Driven by bench/web.py, which adds the Python engine's figures and writes the
// BENCHMARKS.md section; run on its own it prints a table (or JSON with --json).
//
// Sequential traces: replay every patch as a local edit (one insert/delete call
// each), encode the whole document, load it again; every final text is checked
// against endContent.  Concurrent traces: (agents) one replica per agent, each txn
// made at exactly the version its parents name, the missing updates exchanged
// before it -- as bench/peers.py generate_txn_updates does; (merge) every per-txn
// update applied in trace order to a fresh doc; (replay) cowrite only: the ops
// added at their parents' versions to one op log, then one checkout walk, like
// src/cowrite/replay.py.  Median of up to --repeat runs (fewer for long ones), gc() before each (with
// --expose-gc); parsing and position conversion happen before the clock starts.
// The merge figures are warm (the process has made every replica's edits first);
// --cold N adds what a page opening a document pays: the merge as the first work
// of N fresh processes per engine (alternating, so load on the machine hits both
// alike), each reading the updates before the clock starts and then idle for
// --cold-settle ms (default 250: a page has loaded its scripts before a document
// arrives; in Node, importing the engine's CommonJS dependency keeps the JIT's
// background compiler busy for ~100 ms after the import); wall and process CPU
// time (which includes the JIT's background compiles) per run, and their medians.
// Exits 1 if any text is wrong.
import { createRequire } from 'node:module';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { spawnSync } from 'node:child_process';
import os from 'node:os';

import { Document, encodePatch } from '../web/src/engine/index.js';
import { mergeOps } from '../web/src/engine/merge/index.js';
import { Rope } from '../web/src/engine/rope.js';
import { INS, DEL_FWD } from '../web/src/engine/oplog.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const webDir = path.resolve(here, '../web');
// yjs is a devDependency of web/ (bench/ has no node_modules of its own)
const webRequire = createRequire(path.join(webDir, 'package.json'));
// a cold child measuring cowrite must not have Yjs loaded (nor compiling) beside it
const COLD_CHILD = process.argv.includes('--cold-child') ? process.argv[process.argv.indexOf('--cold-child') + 1] : null;
const Y = COLD_CHILD === 'cowrite' ? null : webRequire('yjs');
const YJS_VERSION = JSON.parse(readFileSync(webRequire.resolve('yjs/package.json'), 'utf8')).version;

const TRACES_DIR = process.env.COWRITE_TRACES || path.resolve(here, '../../shared/traces');
const SEQUENTIAL = ['automerge-paper', 'seph-blog1', 'rustcode', 'sveltecomponent'];
const CONCURRENT = ['friendsforever', 'clownschool'];

function arg(name, dflt) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : dflt;
}

const REPEAT = Math.max(1, Number(arg('--repeat', '5')));
const COLD = Math.max(0, Number(arg('--cold', '0')));
const COLD_SETTLE = Math.max(0, Number(arg('--cold-settle', '250')));
const ONLY = arg('--traces', '') ? new Set(arg('--traces', '').split(',')) : null;
const gc = globalThis.gc || (() => {});

function loadTrace(kind, name) {
  const data = JSON.parse(gunzipSync(readFileSync(path.join(TRACES_DIR, kind, `${name}.json.gz`))).toString('utf8'));
  return data;
}

/** Yjs positions are UTF-16 units, the traces' code points; equal unless a trace has astral characters. */
function checkBmp(name, txns) {
  for (const t of txns) for (const p of t.patches) if (/[\uD800-\uDFFF]/.test(p[2])) {
    throw new Error(`${name}: astral characters; Yjs positions would need converting (not implemented)`);
  }
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const CELL_BUDGET_MS = 4000; // at most ~4 s of repetitions per measurement (at least one run)

/**
 * Median (ms) of up to `repeat` runs, gc() before each, the previous result dropped;
 * fewer runs when the first is long (bench/web.py uses the same rule).
 */
function timed(fn, repeat = REPEAT) {
  const runs = [];
  let result;
  let n = repeat;
  while (runs.length < n) {
    result = undefined;
    gc();
    const t0 = performance.now();
    result = fn();
    runs.push(performance.now() - t0);
    if (runs.length === 1) n = Math.max(1, Math.min(repeat, Math.floor(CELL_BUDGET_MS / Math.max(runs[0], 1e-3))));
  }
  return { ms: median(runs), runs, result };
}

const failures = [];
function check(what, got, want) {
  if (got !== want) {
    failures.push(what);
    console.error(`WRONG: ${what} (${got.length} chars, expected ${want.length})`);
  }
}

// -- sequential -----------------------------------------------------------------------

function sequential(name) {
  const trace = loadTrace('sequential', name);
  const patches = trace.txns.flatMap((t) => t.patches);
  const end = trace.endContent;
  const out = { trace: name, kind: 'sequential', patches: patches.length, chars: [...end].length };

  // cowrite JS
  const rep = timed(() => {
    const d = new Document('bench');
    for (const [pos, del, ins] of patches) {
      if (del) d.delete(pos, del);
      if (ins) d.insert(pos, ins);
    }
    return [d.text, d];
  });
  check(`cowrite-js ${name} replay`, rep.result[0], end);
  const doc = rep.result[1];
  const enc = timed(() => doc.encode());
  const bytes = enc.result;
  const load = timed(() => {
    const d = Document.decode(bytes, 'loader');
    return d.text;
  });
  check(`cowrite-js ${name} load`, load.result, end);
  out.cowrite = { replay: rep.ms, encode: enc.ms, load: load.ms, size: bytes.length, replayRuns: rep.runs };

  // Yjs
  checkBmp(name, trace.txns);
  const yrep = timed(() => {
    const yd = new Y.Doc();
    const t = yd.getText('text');
    for (const [pos, del, ins] of patches) {
      if (del) t.delete(pos, del);
      if (ins) t.insert(pos, ins);
    }
    return [t.toString(), yd];
  });
  check(`yjs ${name} replay`, yrep.result[0], end);
  const ydoc = yrep.result[1];
  const yenc = timed(() => Y.encodeStateAsUpdate(ydoc));
  const yb = yenc.result;
  const yload = timed(() => {
    const d = new Y.Doc();
    Y.applyUpdate(d, yb);
    return d.getText('text').toString();
  });
  check(`yjs ${name} load`, yload.result, end);
  out.yjs = { replay: yrep.ms, encode: yenc.ms, load: yload.ms, size: yb.length, replayRuns: yrep.runs };
  return out;
}

// -- concurrent -----------------------------------------------------------------------

/** vv[i]: per-agent txn counts seen after txn i (each agent's txns are totally ordered). */
function versionVectors(trace) {
  const n = trace.numAgents;
  const seq = new Array(n).fill(0);
  const vv = [];
  trace.txns.forEach((txn, i) => {
    const cur = new Array(n).fill(0);
    for (const p of txn.parents) {
      if (!(p >= 0 && p < i)) throw new Error(`txn ${i}: parent ${p} not before it`);
      for (let a = 0; a < n; a++) cur[a] = Math.max(cur[a], vv[p][a]);
    }
    if (cur[txn.agent] !== seq[txn.agent]) throw new Error(`txn ${i}: agent ${txn.agent} out of order`);
    cur[txn.agent] = ++seq[txn.agent];
    vv.push(cur);
  });
  return vv;
}

/**
 * One replica per agent; before agent r makes txn i it receives, in trace order,
 * exactly the ancestor txns it lacks.  Returns every txn's update (its own ops only).
 */
function perAgentReplay(trace, vv, byAgent, replica) {
  const n = trace.numAgents;
  const reps = Array.from({ length: n }, (_, a) => replica(a));
  const seen = Array.from({ length: n }, () => new Array(n).fill(0));
  const updates = [];
  trace.txns.forEach((txn, i) => {
    const r = txn.agent;
    const need = vv[i].slice();
    need[r] -= 1;
    const have = seen[r];
    const missing = [];
    for (let a = 0; a < n; a++) {
      if (a !== r && need[a] > have[a]) missing.push(...byAgent[a].slice(have[a], need[a]));
    }
    missing.sort((x, y) => x - y);
    for (const j of missing) reps[r].apply(updates[j]);
    updates.push(reps[r].edit(txn.patches));
    need[r] += 1;
    seen[r] = need;
  });
  return updates;
}

function cowriteReplica(a) {
  const doc = new Document(`agent${a}`);
  return {
    apply: (u) => doc.applyPatch(u),
    edit(patches) {
      const before = doc.version();
      for (const [pos, del, ins] of patches) {
        if (del) doc.delete(pos, del);
        if (ins) doc.insert(pos, ins);
      }
      return encodePatch(doc.opsSince(before));
    },
  };
}

function yjsReplica(a) {
  // fixed client ids ordered like the agents (pycrdt's adapter does the same): YATA
  // breaks ties between concurrent inserts by client id, and with random ids Yjs
  // interleaves one run of friendsforever differently from endContent
  const doc = new Y.Doc();
  doc.clientID = a + 1;
  const text = doc.getText('text');
  let last = null;
  doc.on('update', (u, origin) => {
    if (origin !== 'remote') last = u;
  });
  return {
    apply: (u) => Y.applyUpdate(doc, u, 'remote'),
    edit(patches) {
      last = null;
      doc.transact(() => {
        for (const [pos, del, ins] of patches) {
          if (del) text.delete(pos, del);
          if (ins) text.insert(pos, ins);
        }
      });
      return last;
    },
  };
}

/** src/cowrite/replay.py in JS: every op added at its txn's parents, then one checkout walk. */
function cowriteTraceReplay(trace) {
  const d = new Document('replay');
  const oplog = d.oplog;
  const cg = oplog.cg;
  const ends = [];
  for (const txn of trace.txns) {
    let frontier = [];
    for (const p of txn.parents) frontier = frontier.concat(ends[p]);
    let version = frontier.length > 1 ? cg.reduce(frontier) : frontier;
    const agent = `agent${txn.agent}`;
    for (const [pos, del, ins] of txn.patches) {
      if (del) {
        const lv = oplog.addLocal(agent, DEL_FWD, pos, del, null, version, 0);
        version = [lv + del - 1];
      }
      if (ins) {
        const chars = Array.from(ins);
        const lv = oplog.addLocal(agent, INS, pos, chars.length, chars, version, 0);
        version = [lv + chars.length - 1];
      }
    }
    ends.push(version);
  }
  const rope = new Rope();
  const [xf] = mergeOps(oplog, 0, [], cg.heads);
  for (const op of xf) {
    if (op.kind === 'ins') rope.insert(op.pos, op.text, [...op.text].length);
    else rope.delete(op.pos, op.length);
  }
  return rope.toString();
}

// -- cold merges (fresh processes) ----------------------------------------------------

/** Updates as one file: each a u32 (little-endian) length, then its bytes. */
function packUpdates(updates) {
  const out = Buffer.alloc(updates.reduce((s, u) => s + 4 + u.length, 0));
  let o = 0;
  for (const u of updates) {
    out.writeUInt32LE(u.length, o);
    out.set(u, o + 4);
    o += 4 + u.length;
  }
  return out;
}

function unpackUpdates(buf) {
  const out = [];
  for (let o = 0; o < buf.length; ) {
    const n = buf.readUInt32LE(o);
    out.push(new Uint8Array(buf.subarray(o + 4, o + 4 + n)));
    o += 4 + n;
  }
  return out;
}

/**
 * The child of --cold: one merge of the updates in `file` by `engine`, the first
 * thing this process runs; prints {wall, cpu, ok} (ms) as JSON.
 */
async function coldChild(engine, file, endFile, settle) {
  const updates = unpackUpdates(readFileSync(file));
  const end = readFileSync(endFile, 'utf8');
  if (settle) await new Promise((resolve) => setTimeout(resolve, settle));
  gc();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let text;
  if (engine === 'cowrite') {
    const d = new Document('server');
    for (const u of updates) d.applyPatch(u);
    text = d.text;
  } else {
    const d = new Y.Doc();
    for (const u of updates) Y.applyUpdate(d, u);
    text = d.getText('text').toString();
  }
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  process.stdout.write(JSON.stringify({ wall, cpu: (c.user + c.system) / 1000, ok: text === end }) + '\n');
}

/** Medians of `runs` fresh-process merges per engine, the engines alternating. */
function coldMerges(name, byEngine, end) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cowrite-cold-'));
  try {
    const endFile = path.join(dir, 'end.txt');
    writeFileSync(endFile, end);
    const files = {};
    for (const [engine, updates] of Object.entries(byEngine)) {
      files[engine] = path.join(dir, `${engine}.bin`);
      writeFileSync(files[engine], packUpdates(updates));
    }
    const runs = Object.fromEntries(Object.keys(byEngine).map((e) => [e, []]));
    for (let i = 0; i < COLD; i++) {
      for (const engine of Object.keys(byEngine)) {
        const args = ['--expose-gc', fileURLToPath(import.meta.url), '--cold-child', engine, files[engine], endFile, String(COLD_SETTLE)];
        const res = spawnSync(process.execPath, args, { encoding: 'utf8' });
        if (res.status !== 0) throw new Error(`cold ${engine} ${name}: ${res.stderr}`);
        const r = JSON.parse(res.stdout);
        check(`${engine} ${name} cold merge`, r.ok ? end : '', end);
        runs[engine].push(r);
      }
    }
    return Object.fromEntries(
      Object.entries(runs).map(([e, rs]) => [
        e,
        { wall: median(rs.map((r) => r.wall)), cpu: median(rs.map((r) => r.cpu)), wallRuns: rs.map((r) => r.wall), cpuRuns: rs.map((r) => r.cpu) },
      ]),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function concurrent(name) {
  const trace = loadTrace('concurrent', name);
  checkBmp(name, trace.txns);
  const end = trace.endContent;
  const vv = versionVectors(trace);
  const byAgent = Array.from({ length: trace.numAgents }, () => []);
  trace.txns.forEach((t, i) => byAgent[t.agent].push(i));
  const out = {
    trace: name,
    kind: 'concurrent',
    agents: trace.numAgents,
    txns: trace.txns.length,
    patches: trace.txns.reduce((s, t) => s + t.patches.length, 0),
    chars: [...end].length,
  };

  const ag = timed(() => perAgentReplay(trace, vv, byAgent, cowriteReplica));
  const updates = ag.result;
  const merge = timed(() => {
    const d = new Document('server');
    for (const u of updates) d.applyPatch(u);
    return [d.text, d];
  });
  check(`cowrite-js ${name} merge`, merge.result[0], end);
  const bytes = merge.result[1].encode();
  const rp = timed(() => cowriteTraceReplay(trace));
  check(`cowrite-js ${name} replay`, rp.result, end);
  out.cowrite = {
    agents: ag.ms,
    merge: merge.ms,
    replay: rp.ms,
    updateBytes: updates.reduce((s, u) => s + u.length, 0),
    size: bytes.length,
    mergeRuns: merge.runs,
  };

  const yag = timed(() => perAgentReplay(trace, vv, byAgent, yjsReplica));
  const yupd = yag.result;
  const ymerge = timed(() => {
    const d = new Y.Doc();
    for (const u of yupd) Y.applyUpdate(d, u);
    return [d.getText('text').toString(), d];
  });
  check(`yjs ${name} merge`, ymerge.result[0], end);
  out.yjs = {
    agents: yag.ms,
    merge: ymerge.ms,
    updateBytes: yupd.reduce((s, u) => s + u.length, 0),
    size: Y.encodeStateAsUpdate(ymerge.result[1]).length,
    mergeRuns: ymerge.runs,
  };
  if (COLD) {
    const cold = coldMerges(name, { cowrite: updates, yjs: yupd }, end);
    out.cowrite.coldMerge = cold.cowrite;
    out.yjs.coldMerge = cold.yjs;
  }
  return out;
}

if (COLD_CHILD) {
  const i = process.argv.indexOf('--cold-child');
  await coldChild(COLD_CHILD, process.argv[i + 2], process.argv[i + 3], Number(process.argv[i + 4]));
  process.exit(0);
}

const results = [];
for (const name of SEQUENTIAL) if (!ONLY || ONLY.has(name)) {
  results.push(sequential(name));
  console.error(`${name}: cowrite-js ${results.at(-1).cowrite.replay.toFixed(0)} ms, yjs ${results.at(-1).yjs.replay.toFixed(0)} ms`);
}
for (const name of CONCURRENT) if (!ONLY || ONLY.has(name)) {
  results.push(concurrent(name));
  const r = results.at(-1);
  console.error(`${name}: cowrite-js agents ${r.cowrite.agents.toFixed(0)} ms merge ${r.cowrite.merge.toFixed(0)} ms, yjs agents ${r.yjs.agents.toFixed(0)} ms merge ${r.yjs.merge.toFixed(0)} ms`);
  if (COLD) {
    const c = r.cowrite.coldMerge;
    const y = r.yjs.coldMerge;
    console.error(
      `${name}: cold merge (median of ${COLD} fresh processes, ${COLD_SETTLE} ms settle) cowrite-js ${c.wall.toFixed(0)} ms wall / ${c.cpu.toFixed(0)} ms cpu, ` +
        `yjs ${y.wall.toFixed(0)} / ${y.cpu.toFixed(0)} (${(c.wall / y.wall).toFixed(2)}x wall, ${(c.cpu / y.cpu).toFixed(2)}x cpu)`,
    );
  }
}

const report = { node: process.version, yjs: YJS_VERSION, repeat: REPEAT, gc: Boolean(globalThis.gc), cold: COLD, coldSettle: COLD_SETTLE, results, failures };
if (process.argv.includes('--json')) {
  process.stdout.write(JSON.stringify(report) + '\n');
} else {
  console.log(JSON.stringify(report, null, 1));
}
process.exit(failures.length ? 1 : 0);
