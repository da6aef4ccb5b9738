// Live contract test: start real natterd nodes, run every case in
// tests/contract/cases/*.json against them, and validate each real
// response (status and JSON body) against api-spec/openapi.yaml.
//
// Usage: node validate.mjs <natterd> [spec]
//
// A case file is a JSON array of cases, run in order (files in name order).
// Add your endpoints by adding a file (e.g. cases/rooms.json); see
// cases/core.json and the README in this directory for the fields.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import YAML from 'yaml';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');
const natterd = process.argv[2];
const specPath = process.argv[3] || path.join(root, 'api-spec', 'openapi.yaml');
const NODES = ['a', 'b'];
const START_TIMEOUT_MS = 120000;
const REQUEST_TIMEOUT_MS = 30000;

if (!natterd) {
  console.error('usage: node validate.mjs <natterd> [openapi.yaml]');
  process.exit(2);
}

const spec = YAML.parse(fs.readFileSync(specPath, 'utf8'));
const ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false });
addFormats(ajv);
ajv.addSchema(spec, 'openapi.json');

const ptr = (...parts) => '#/' + parts.map((p) => String(p).replace(/~/g, '~0').replace(/\//g, '~1')).join('/');
const validators = new Map();
function validatorFor(pointer) {
  if (!validators.has(pointer)) validators.set(pointer, ajv.compile({ $ref: 'openapi.json' + pointer }));
  return validators.get(pointer);
}

// Follow a local $ref (for response objects, which are not JSON Schema).
function deref(obj, pointerOut) {
  let p = pointerOut;
  for (let i = 0; obj && obj.$ref && i < 10; i++) {
    p = obj.$ref;
    obj = p.slice(2).split('/').reduce((o, k) => o?.[k.replace(/~1/g, '/').replace(/~0/g, '~')], spec);
  }
  return [obj, p];
}

// Spec path templates, most literal first, as regexes.
const templates = Object.keys(spec.paths || {})
  .map((t) => ({
    t,
    re: new RegExp('^' + t.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+') + '$'),
    literal: t.replace(/\{[^}]+\}/g, '').length,
  }))
  .sort((x, y) => y.literal - x.literal);
const matchTemplate = (p) => templates.find((x) => x.re.test(p))?.t;

// ---- nodes -----------------------------------------------------------------

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'natter-contract-'));
const nodes = {};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function startNode(name) {
  const dataDir = path.join(tmp, name);
  const log = fs.openSync(path.join(tmp, `${name}.log`), 'a');
  const args = ['--data-dir', dataDir, '--listen', '127.0.0.1:0', '--client-listen', '127.0.0.1:0',
    '--key-bits', '2048', '--name', `contract-${name}`, '--no-discovery'];
  const child = spawn(natterd, args, { stdio: ['ignore', log, log] });
  let exited = null;
  child.on('exit', (code, sig) => { exited = code ?? sig; });
  const end = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (exited !== null) throw new Error(`node ${name} exited (${exited}) before ready; see ${tmp}/${name}.log`);
    try {
      const run = JSON.parse(fs.readFileSync(path.join(dataDir, 'natterd.json'), 'utf8'));
      if (run.pid === child.pid) {
        const token = fs.readFileSync(path.join(dataDir, 'api-token'), 'utf8').trim();
        return { child, dataDir, token, peer: run.peer, client: run.client, node_id: run.node_id, name: `contract-${name}` };
      }
    } catch { /* not there yet */ }
    if (Date.now() > end) throw new Error(`node ${name} not ready after ${START_TIMEOUT_MS} ms`);
    await sleep(25);
  }
}

async function stopNode(n) {
  if (!n || n.child.exitCode !== null) return n?.child.exitCode;
  const done = new Promise((r) => n.child.on('exit', (code, sig) => r(code ?? sig)));
  n.child.kill('SIGTERM');
  const t = setTimeout(() => n.child.kill('SIGKILL'), 15000);
  const code = await done;
  clearTimeout(t);
  return code;
}

// ---- requests --------------------------------------------------------------

function request(addr, method, p, headers, body) {
  const [host, port] = [addr.slice(0, addr.lastIndexOf(':')), addr.slice(addr.lastIndexOf(':') + 1)];
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port, method, path: p, headers, timeout: REQUEST_TIMEOUT_MS, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    if (body !== undefined) req.end(body); else req.end();
  });
}

const vars = {};
function subst(v) {
  if (typeof v === 'string') {
    return v.replace(/\$\{([^}]+)\}/g, (_, k) => {
      if (!(k in vars)) throw new Error(`unknown variable \${${k}}`);
      return vars[k];
    });
  }
  if (Array.isArray(v)) return v.map(subst);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, subst(x)]));
  return v;
}
const getPath = (obj, dotted) => dotted.split('.').reduce((o, k) => (o == null ? undefined : o[k]), obj);

// ---- one case ----------------------------------------------------------------

const covered = new Set();

async function runCase(c, where) {
  const n = nodes[c.node || 'a'];
  const api = c.api || (c.path.startsWith('/v1/client/') ? 'client' : 'peer');
  const method = c.method || 'GET';
  const p = subst(c.path);
  const headers = Object.assign({}, subst(c.headers || {}));
  const auth = c.auth === undefined ? api === 'client' : c.auth;
  if (auth === true) headers.Authorization = `Bearer ${n.token}`;
  else if (auth === 'bad') headers.Authorization = `Bearer ${'0'.repeat(64)}`;
  let body;
  if (c.body_size !== undefined) body = Buffer.alloc(c.body_size, c.body_fill || 'a');
  else if (c.body_raw !== undefined) body = subst(c.body_raw);
  else if (c.body !== undefined) body = JSON.stringify(subst(c.body));
  if (body !== undefined) {
    headers['Content-Type'] = headers['Content-Type'] || 'application/json';
    headers['Content-Length'] = Buffer.byteLength(body);
  }
  const res = await request(api === 'client' ? n.client : n.peer, method, p, headers, body);
  const errs = [];
  if (c.status !== undefined && res.status !== c.status) errs.push(`status ${res.status}, want ${c.status}`);
  let json;
  if (!/^application\/json\b/.test(res.headers['content-type'] || '')) errs.push(`Content-Type is ${res.headers['content-type']}`);
  try { json = JSON.parse(res.text); } catch { errs.push(`body is not JSON: ${res.text.slice(0, 200)}`); }

  // Which schema applies?
  // /v1/client/... is served by the client listener, the rest by the peer
  // listener; a path asked of the wrong listener is "no operation".
  const tmpl0 = matchTemplate(p.split('?')[0]);
  const tmpl = tmpl0 && (tmpl0.startsWith('/v1/client/') ? 'client' : 'peer') === api ? tmpl0 : undefined;
  const op = tmpl && spec.paths[tmpl][method.toLowerCase()];
  let schemaPtr;
  if (!op) {
    // No operation: only an error reply is acceptable (404 unknown path,
    // 405 other method, 401 before routing, 413 before routing).
    if (res.status < 400) errs.push(`${method} ${p}: ${res.status} but the spec has no such operation`);
    if (res.status === 405 && !tmpl) errs.push('405 for a path the spec does not have');
    if (res.status === 405 && !res.headers.allow) errs.push('405 without Allow');
    schemaPtr = ptr('components', 'schemas', 'Error');
  } else {
    covered.add(`${method} ${tmpl} ${res.status}`);
    const declared = op.responses?.[String(res.status)] ? String(res.status) : op.responses?.default ? 'default' : null;
    if (!declared) {
      errs.push(`status ${res.status} is not in the spec for ${method} ${tmpl}`);
    } else {
      const [r, rp] = deref(op.responses[declared], ptr('paths', tmpl, method.toLowerCase(), 'responses', declared));
      if (r?.content?.['application/json']?.schema) {
        schemaPtr = (rp.startsWith('#') ? rp : '#' + rp) + '/content/application~1json/schema';
      } else {
        errs.push(`no application/json schema for ${method} ${tmpl} ${declared}`);
      }
    }
  }
  if (json !== undefined && schemaPtr) {
    const v = validatorFor(schemaPtr);
    if (!v(json)) errs.push(`body does not match ${schemaPtr}: ${ajv.errorsText(v.errors)}`);
  }
  for (const [k, want] of Object.entries(subst(c.expect || {}))) {
    const got = getPath(json, k);
    if (JSON.stringify(got) !== JSON.stringify(want)) errs.push(`${k} = ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
  }
  if (c.expect_error && getPath(json, 'error.code') !== c.expect_error) {
    errs.push(`error.code = ${getPath(json, 'error.code')}, want ${c.expect_error}`);
  }
  for (const [name, dotted] of Object.entries(c.save || {})) {
    const v = getPath(json, dotted);
    if (v === undefined) errs.push(`cannot save ${name}: no ${dotted} in the body`);
    else vars[name] = typeof v === 'string' ? v : JSON.stringify(v);
  }
  const label = `${where}: ${c.name || ''} ${method} ${p} -> ${res.status}`;
  if (errs.length) {
    console.log(`FAIL ${label}\n  ${errs.join('\n  ')}`);
    return false;
  }
  console.log(`ok   ${label}`);
  return true;
}

// ---- main ----------------------------------------------------------------------

let failed = 0, passed = 0;
try {
  for (const name of NODES) {
    nodes[name] = await startNode(name);
    for (const k of ['peer', 'client', 'node_id', 'name']) vars[`${name}.${k}`] = nodes[name][k];
  }
  const dir = path.join(here, 'cases');
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
  for (const f of files) {
    const cases = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'));
    for (let i = 0; i < cases.length; i++) {
      let ok;
      try { ok = await runCase(cases[i], `${f}#${i}`); } catch (e) { console.log(`FAIL ${f}#${i}: ${e.message}`); ok = false; }
      if (ok) passed++; else failed++;
    }
  }
  // Operations the spec lists that no case reached (a to-do list, not a failure).
  const missing = [];
  for (const [t, item] of Object.entries(spec.paths || {})) {
    for (const m of ['get', 'put', 'post', 'delete', 'patch']) {
      if (item[m] && ![...covered].some((k) => k.startsWith(`${m.toUpperCase()} ${t} `))) missing.push(`${m.toUpperCase()} ${t}`);
    }
  }
  if (missing.length) console.log(`not exercised by any case (${missing.length}): ${missing.join(', ')}`);
} catch (e) {
  console.log(`FAIL: ${e.message}`);
  failed++;
} finally {
  for (const name of NODES) {
    const code = await stopNode(nodes[name]);
    if (nodes[name] && code !== 0) { console.log(`FAIL node ${name} exited ${code} on SIGTERM`); failed++; }
  }
  if (failed) {
    for (const name of NODES) {
      const log = path.join(tmp, `${name}.log`);
      if (fs.existsSync(log)) console.log(`---- ${name}.log\n` + fs.readFileSync(log, 'utf8').split('\n').slice(-30).join('\n'));
    }
  }
  fs.rmSync(tmp, { recursive: true, force: true });
}
console.log(`contract: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
