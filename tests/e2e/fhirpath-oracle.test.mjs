// Differential test of our FHIRPath engine against fhirpath.js (the engine LHC-Forms and Smart
// Forms use), over every FHIRPath expression in the shared corpus Questionnaires: variables and
// every *Expression extension. Each is evaluated by both over the same inputs: the form's
// QuestionnaireResponse as a user would fill it (empty, and two generated fills), with
// %resource and %context = the response, %questionnaire = the form, %patient = the demo
// patient, and the form's variables bound to the values fhirpath.js gives them (so a
// disagreement is about the expression itself, not about an earlier variable).
//
// Ours runs in one `intake fhirpath` process (JSON lines). Prints the agreement and writes every
// disagreement to tests/artifacts/fhirpath-oracle.txt; asserts a floor so nothing regresses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { ARTIFACTS, ROOT } from './lib.mjs';

const require = createRequire(import.meta.url);
const fhirpath = require('fhirpath');
const r4 = require('fhirpath/fhir-context/r4');

// The bar: at least 99% of comparable evaluations agree. Every disagreement is listed in
// tests/artifacts/fhirpath-oracle.txt; one where fhirpath.js is wrong goes in
// tests/e2e/fhirpath-oracle-notes.md with the spec text that decides it.
const FLOOR = 0.99;
const NOW = new Date().toISOString();

function files(dir) {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.json') ? [p] : [];
  });
}

/** Every text/fhirpath expression of a Questionnaire, in document order. */
function expressions(q) {
  const out = [];
  const walk = (node, path) => {
    if (Array.isArray(node)) return node.forEach((x, i) => walk(x, `${path}[${i}]`));
    if (!node || typeof node !== 'object') return;
    const ve = node.valueExpression;
    if (ve && typeof ve.expression === 'string' && (ve.language ?? 'text/fhirpath') === 'text/fhirpath') {
      out.push({ path: `${path}.valueExpression`, name: node.url?.endsWith('/variable') ? ve.name : null, expression: ve.expression });
    }
    for (const [k, v] of Object.entries(node)) if (k !== 'valueExpression') walk(v, `${path}.${k}`);
  };
  walk(q, 'Questionnaire');
  return out;
}

/** A response as a user would fill it: `pick` chooses among the options, or a value by type. */
function fill(q, pick) {
  const value = (it) => {
    const opt = it.answerOption?.[pick % Math.max(1, it.answerOption.length)];
    if (opt) {
      const [k, v] = Object.entries(opt).find(([key]) => key.startsWith('value')) ?? [];
      if (k) return { [k]: v };
    }
    switch (it.type) {
      case 'boolean': return { valueBoolean: pick % 2 === 1 };
      case 'integer': return { valueInteger: [42, 7, 65][pick % 3] };
      case 'decimal': return { valueDecimal: [70.5, 1.8, 120][pick % 3] };
      case 'date': return { valueDate: ['2000-01-15', '1950-06-30', '2024-02-29'][pick % 3] };
      case 'dateTime': return { valueDateTime: '2020-03-04T05:06:07Z' };
      case 'string': case 'text': return { valueString: ['some text', 'other'][pick % 2] };
      case 'quantity': return { valueQuantity: { value: 70, unit: 'kg', system: 'http://unitsofmeasure.org', code: 'kg' } };
      default: return null;
    }
  };
  const items = (list) => (list ?? []).flatMap((it) => {
    if (it.type === 'display') return [];
    if (it.type === 'group') {
      const children = items(it.item);
      return children.length ? [{ linkId: it.linkId, item: children }] : [];
    }
    const v = value(it);
    if (!v) return [];
    const children = items(it.item);
    return [{ linkId: it.linkId, answer: [children.length ? { ...v, item: children } : v] }];
  });
  return { resourceType: 'QuestionnaireResponse', status: 'in-progress', item: items(q.item) };
}

/** Comparable shapes: numbers to 9 places, quantities as value + unit, in order. */
function norm(x) {
  if (typeof x === 'number') return Math.round(x * 1e9) / 1e9;
  if (typeof x === 'string') {
    const m = x.match(/^(-?[\d.]+) '(.+)'$/);
    return m ? { quantity: Number(m[1]), unit: m[2] } : x;
  }
  if (Array.isArray(x)) return x.map(norm);
  if (x && typeof x === 'object') {
    if (typeof x.value === 'number' && (x.unit || x.code) && Object.keys(x).every((k) => ['value', 'unit', 'system', 'code'].includes(k))) {
      return { quantity: norm(x.value), unit: x.code ?? x.unit };
    }
    return Object.fromEntries(Object.keys(x).sort().map((k) => [k, norm(x[k])]));
  }
  return x;
}

/** One `intake fhirpath` process: requests in, replies out, in order. */
function ours() {
  const bin = process.env.INTAKE_BIN || join(ROOT, 'target', 'debug', 'intake');
  const child = spawn(bin, ['fhirpath'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const waiting = [];
  let buf = '';
  child.stdout.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      waiting.shift()(JSON.parse(line));
    }
  });
  return {
    inputs: (req) => child.stdin.write(`${JSON.stringify(req)}\n`),
    eval: (expression) => new Promise((resolve) => { waiting.push(resolve); child.stdin.write(`${JSON.stringify({ expression })}\n`); }),
    close: () => child.stdin.end(),
  };
}

test('our FHIRPath agrees with fhirpath.js on the corpus forms\' expressions', async () => {
  const corpus = join(ROOT, '..', 'shared', 'corpus', 'questionnaires');
  const patient = JSON.parse(readFileSync(join(ROOT, 'web', 'demo', 'charts', 'maria-hernandez.json'), 'utf8'))
    .entry.map((e) => e.resource).find((r) => r.resourceType === 'Patient');
  const engine = ours();
  const counts = { comparable: 0, agree: 0, unsupported: 0, clock: 0, forms: 0, expressions: 0 };
  const disagreements = [];
  const unsupported = new Set();
  for (const file of files(corpus)) {
    let q;
    try { q = JSON.parse(readFileSync(file, 'utf8')); } catch { continue; }
    if (q?.resourceType !== 'Questionnaire') continue;
    const exprs = expressions(q);
    if (!exprs.length) continue;
    counts.forms++;
    if (process.env.ORACLE_PROGRESS) console.error(`${file.slice(corpus.length + 1)}: ${exprs.length}`);
    counts.expressions += exprs.length;
    for (const pick of [-1, 0, 1]) {
      const qr = pick < 0 ? { resourceType: 'QuestionnaireResponse', status: 'in-progress' } : fill(q, pick);
      // The form's variables, as fhirpath.js computes them, in order.
      const vars = { questionnaire: q, patient };
      // fhirpath.js binds %resource only when told: both engines get the same three.
      const theirsEnv = { resource: qr, rootResource: qr, context: qr };
      for (const e of exprs.filter((x) => x.name)) {
        try { vars[e.name] = fhirpath.evaluate(qr, e.expression, { ...vars, ...theirsEnv }, r4); } catch { vars[e.name] = []; }
      }
      engine.inputs({ resource: qr, vars, now: NOW });
      for (const e of exprs) {
        let theirs;
        try { theirs = { result: fhirpath.evaluate(qr, e.expression, { ...vars, ...theirsEnv }, r4) }; } catch (err) { theirs = { error: String(err.message ?? err) }; }
        const mine = await engine.eval(e.expression);
        if (mine.kind === 'unsupported') { counts.unsupported++; unsupported.add(mine.error.replace(/ at column \d+/, '')); continue; }
        if (/\bnow\(\)|timeOfDay\(\)/.test(e.expression)) { counts.clock++; continue; }
        counts.comparable++;
        const same = (theirs.error && mine.error) || (!theirs.error && !mine.error && JSON.stringify(norm(theirs.result)) === JSON.stringify(norm(mine.result)));
        if (same) counts.agree++;
        else disagreements.push(`${file.slice(corpus.length + 1)} ${e.path} (fill ${pick})\n  ${e.expression}\n  fhirpath.js: ${JSON.stringify(theirs).slice(0, 300)}\n  ours:        ${JSON.stringify(mine).slice(0, 300)}`);
      }
    }
  }
  engine.close();
  const rate = counts.agree / Math.max(1, counts.comparable);
  const summary = `${counts.forms} forms, ${counts.expressions} expressions, 3 fills each: ${counts.comparable} comparable evaluations, ` +
    `${counts.agree} agree (${(rate * 100).toFixed(2)}%); ${counts.unsupported} not supported by ours; ${counts.clock} read the clock (not compared)`;
  console.log(summary);
  mkdirSync(ARTIFACTS, { recursive: true });
  writeFileSync(join(ARTIFACTS, 'fhirpath-oracle.txt'),
    `${summary}\n\nNot supported by ours:\n${[...unsupported].sort().join('\n')}\n\nDisagreements:\n${disagreements.join('\n\n')}\n`);
  assert.ok(counts.comparable > 1000, summary);
  assert.ok(rate >= FLOOR, `${summary}; below the floor of ${FLOOR}: see tests/artifacts/fhirpath-oracle.txt`);
});
