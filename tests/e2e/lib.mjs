// Shared helpers for the browser tests: Debian chromium via playwright-core (never a
// downloaded browser), the project's own static server, axe-core, screenshots.
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const ARTIFACTS = join(ROOT, 'tests', 'artifacts');
mkdirSync(ARTIFACTS, { recursive: true });

export const CHROMIUM_ARGS = [
  '--headless=new', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic',
  // window.gc(), for tests that a mounted form survives garbage collection.
  '--js-flags=--expose-gc',
];

export async function launch() {
  return chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: CHROMIUM_ARGS });
}

/** Start `intake serve DIR` on a free port; resolves to { url, stop }. */
export async function serve(dir = join(ROOT, 'web', 'dist')) {
  const bin = process.env.INTAKE_BIN || join(ROOT, 'target', 'debug', 'intake');
  const child = spawn(bin, ['serve', dir, '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/on (http:\/\/127\.0\.0\.1:\d+\/)/);
      if (m) resolve(m[1]);
    });
    child.on('exit', (code) => reject(new Error(`intake serve exited ${code}: ${out}`)));
  });
  return { url, stop: () => child.kill() };
}

/** Start `intake preview ARGS` (cwd `cwd`) on a free port; resolves to { url, stop, output }. */
export async function preview(args, cwd = ROOT) {
  const bin = process.env.INTAKE_BIN || join(ROOT, 'target', 'debug', 'intake');
  const child = spawn(bin, ['preview', ...args, '--port', '0'], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stderr.on('data', (d) => { out += d; });
  const url = await new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/preview on (http:\/\/127\.0\.0\.1:\d+\/)/);
      if (m) resolve(m[1]);
    });
    child.on('exit', (code) => reject(new Error(`intake preview exited ${code}: ${out}`)));
  });
  return { url, stop: () => child.kill(), output: () => out };
}

/** A page that records console errors, page errors, dialogs and network requests. */
export async function openPage(browser, { width = 1280, height = 800, bypassCSP = false, locale = 'en-US' } = {}) {
  const context = await browser.newContext({ viewport: { width, height }, bypassCSP, locale });
  const page = await context.newPage();
  const problems = [];
  const requests = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/favicon|404/.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  page.on('dialog', async (d) => { problems.push(`dialog: ${d.message()}`); await d.dismiss(); });
  page.on('request', (r) => requests.push(r.url()));
  return { context, page, problems, requests };
}

/** Open the demo for a visit type and patient with no saved answers. */
export async function startDemo(page, base, visitType, patient, lang = 'en') {
  await page.goto(`${base}?visitType=${visitType}&patient=${patient}&lang=${lang}`);
  await page.evaluate(() => localStorage.clear());
  await page.reload();
  await page.waitForSelector('.ik-page h3');
}

const AXE = readFileSync(join(ROOT, 'tests', 'e2e', 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');

/** Run axe-core (WCAG 2.0/2.1 A and AA, plus best practices) on the page; returns violations. */
export async function axe(page) {
  await page.evaluate(AXE);
  return page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | ')}`);
  });
}

export async function shot(page, name) {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** The question block (wrapper) whose label or legend contains `text`. */
export function question(page, text) {
  return page.locator('.ik-q').filter({ has: page.locator(':scope > label, :scope > legend', { hasText: text }) }).first();
}

/** Press Tab until the focused element satisfies `pred` (run in the page); keyboard-only navigation. */
export async function tabTo(page, pred, what, max = 120) {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate(pred)) return;
  }
  const where = await page.evaluate(() => [
    document.querySelector('.ik-page h3')?.textContent,
    document.querySelector('.ik-summary')?.textContent,
  ].filter(Boolean).join(' | '));
  await shot(page, 'tab-failure');
  throw new Error(`could not reach ${what} with the Tab key (page: ${where}); see tests/artifacts/tab-failure.png`);
}

/** The Bundle and QR the demo page displays after submit. */
export async function submittedBundle(page) {
  await page.waitForSelector('#result:not([hidden]) #bundle');
  const text = await page.locator('#bundle').textContent();
  return JSON.parse(text);
}

export function resources(bundle, type) {
  return bundle.entry.map((e) => e.resource).filter((r) => r.resourceType === type);
}

// ---- large-form fixtures shared by bench.mjs and profile.mjs ----------------------------------

/** A Questionnaire from the shared corpus. */
export const corpus = (p) => JSON.parse(readFileSync(join(ROOT, '..', 'shared', 'corpus', p), 'utf8'));

/** `n` yes/no questions, each shown only when the one before is answered yes. */
export const enableWhenChain = (n) => ({
  resourceType: 'Questionnaire', id: 'chain', status: 'active', title: `${n.toLocaleString('en')}-item enableWhen chain`,
  item: Array.from({ length: n }, (_, i) => ({
    linkId: `i${i}`, type: 'boolean', text: `Question ${i}`,
    ...(i > 0 ? { enableWhen: [{ question: `i${i - 1}`, operator: '=', answerBoolean: true }] } : {}),
  })),
});

/**
 * The peers-bench's `chain-1000` shape, written again here so our own tools need no copy of
 * it: `n` items, even ones yes/no, odd ones whole numbers, each shown when the one before is
 * answered (yes, or any number), and every tenth a read-only sum (calculatedExpression) of
 * the five whole numbers before it.
 */
export const sumChain = (n) => {
  const kind = (i) => (i > 0 && i % 10 === 0 ? 'calc' : i % 2 === 0 ? 'boolean' : 'integer');
  const item = Array.from({ length: n }, (_, i) => {
    const it = { linkId: `q${i}`, type: kind(i) === 'boolean' ? 'boolean' : 'integer', text: `Item ${i}` };
    if (kind(i) === 'calc') {
      const terms = [];
      for (let j = i - 9; j < i; j += 2) terms.push(`%resource.item.where(linkId='q${j}').answer.value`);
      it.readOnly = true;
      it.extension = [{ url: 'http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-calculatedExpression',
        valueExpression: { language: 'text/fhirpath', expression: terms.join(' + ') } }];
    }
    if (i > 0) {
      it.enableWhen = [kind(i - 1) === 'boolean'
        ? { question: `q${i - 1}`, operator: '=', answerBoolean: true }
        : { question: `q${i - 1}`, operator: 'exists', answerBoolean: true }];
    }
    return it;
  });
  item.push({ linkId: 'end', type: 'display', text: 'End of the chain' });
  return { resourceType: 'Questionnaire', id: 'sum-chain', status: 'draft', title: `${n}-item chain with sums`, item };
};

/**
 * `n` questions on one page (no groups), every one answered: yes/no, text, whole numbers and
 * a choice, in turn. Returns [questionnaire, autosave snapshot].
 */
export const answeredFlatForm = (n) => {
  const kinds = [
    ['boolean', () => true],
    ['string', (i) => `answer ${i}`],
    ['integer', (i) => i],
    ['choice', () => 'b'],
  ];
  const item = Array.from({ length: n }, (_, i) => {
    const [type] = kinds[i % kinds.length];
    return { linkId: `q${i}`, type, text: `Question ${i}`,
      ...(type === 'choice' ? { answerOption: ['a', 'b', 'c'].map((code) => ({ valueCoding: { code, display: `Option ${code}` } })) } : {}) };
  });
  const answers = Object.fromEntries(item.map((it, i) => [it.linkId, kinds[i % kinds.length][1](i)]));
  return [{ resourceType: 'Questionnaire', id: 'flat', status: 'active', title: `${n.toLocaleString('en')} questions`, item },
    { format: 'intake-answers/1', visit_type: 'flat', patient: 'Patient/p', session: 'bench', page: 0, answers }];
};

/** A form's top-level items wrapped in one group, so our renderer shows it all on one page. */
export const onePage = (q) => ({ ...q, id: `${q.id || 'form'}-onepage`, item: [{ linkId: 'onepage', type: 'group', text: q.title || 'All questions', item: q.item }] });

/**
 * The large forms bench.mjs mounts (and ab.mjs compares two builds on): [name, Questionnaire,
 * autosave snapshot or null].
 */
export const largeForms = () => {
  const chain = enableWhenChain(1000);
  const allAnswered = { format: 'intake-answers/1', visit_type: 'chain', patient: 'Patient/p', session: 'bench', page: 0,
    answers: Object.fromEntries(chain.item.map((it) => [it.linkId, true])) };
  const mds = corpus('questionnaires/fhirpath.js/Minimum-Data-Set---version-3.0.R4.json');
  const mbs = corpus('questionnaires/smart-forms/app-questionnaires/Questionnaire-AboriginalTorresStraitIslanderHealthCheckAssembled-0.4.0.json');
  return [
    ['MDS 3.0 (772 items)', mds, null],
    ['MBS 715 (808 items)', mbs, null],
    ['1,000-item chain', chain, null],
    ['1,000-item chain, all answered', chain, allAnswered],
    ['500 repeating-group rows, resumed', ...savedRows(500)],
    ['MDS 3.0 all on one page', onePage(mds), null],
    ['MBS 715 all on one page', onePage(mbs), null],
    ['5,000 questions, all answered', ...answeredFlatForm(5000)],
  ];
};

/**
 * Resolves after eight idle periods of the page: the demo page warms its own build in idle
 * periods (five steps), and a mount timed before they finish may have a step land between
 * it and its frame.
 */
export const afterWarmUp = (page) => page.evaluate(() => new Promise((r) => {
  let n = 0;
  const f = () => (++n < 8 ? requestIdleCallback(f) : r());
  requestIdleCallback(f);
}));

/** A repeating group of medicines and an autosave snapshot holding `n` rows of it. */
export const savedRows = (n) => [{
  resourceType: 'Questionnaire', id: 'rows', status: 'active', title: 'Medicines',
  item: [{ linkId: 'row', type: 'group', repeats: true, text: 'Medicine', item: [
    { linkId: 'row.name', type: 'string', text: 'Name' }, { linkId: 'row.dose', type: 'integer', text: 'Dose' }] }],
}, { format: 'intake-answers/1', visit_type: 'rows', patient: 'Patient/p', session: 'bench', page: 0,
  answers: { row: Array.from({ length: n }, (_, i) => ({ 'row.name': `medicine ${i}`, 'row.dose': i })) } }];

/** Every `.json` file under `dir`, in sorted order (the corpus walks read them all). */
export function* jsonFiles(dir) {
  for (const f of readdirSync(dir).sort()) {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) yield* jsonFiles(p);
    else if (f.endsWith('.json')) yield p;
  }
}

/**
 * On the demo server's page (already opened with `openPage`), make the engine ready as
 * `window.intake` and an empty `#<id>` element to mount into, in place of the demo's own form.
 */
export async function hostIn(page, base, id = 'host') {
  await page.goto(base);
  await page.waitForSelector('body[data-ready=true]');
  await page.evaluate(async (id) => {
    const m = await import('./pkg/intake_web.js');
    await m.default();
    window.intake = m;
    document.querySelector('#start').hidden = true;
    const host = document.createElement('div');
    host.id = id;
    document.querySelector('main').append(host);
  }, id);
}
