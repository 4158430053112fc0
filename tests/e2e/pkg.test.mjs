// The npm package as a vendor gets it: `npm pack`, installed into a fresh folder (no workspace
// links), used by a plain-HTML host (<intake-form> twice, and mount()) and by a host that uses
// only the engine API, in Chromium under a strict Content-Security-Policy. Checks: zero CSP
// violations, no request but the host's own files and the package's, independent forms, events,
// clear errors for bad options without losing answers, and tsc against the declarations.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { axe, launch, openPage, ROOT, serve } from './lib.mjs';

let browser, server, host;

before(async () => {
  const work = mkdtempSync(join(tmpdir(), 'intake-pkg-'));
  const out = execFileSync('npm', ['pack', '--silent', '--pack-destination', work], { cwd: join(ROOT, 'pkg'), encoding: 'utf8' }).trim();
  const tarball = join(work, out.split('\n').pop());
  host = join(work, 'portal');
  mkdirSync(host);
  writeFileSync(join(host, 'package.json'), JSON.stringify({ name: 'portal', private: true, type: 'module' }));
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--offline', tarball], { cwd: host, stdio: 'pipe' });
  cpSync(join(ROOT, 'tests', 'e2e', 'pkg-host'), host, { recursive: true });
  mkdirSync(join(host, 'data'));
  for (const dir of ['visit-types', 'charts']) {
    for (const f of readdirSync(join(ROOT, 'web', 'dist', dir))) cpSync(join(ROOT, 'web', 'dist', dir, f), join(host, 'data', f));
  }
  // The same package with its runtime from the fault-injection test build (fault-build.sh).
  const fault = join(ROOT, 'target', 'fault-pkg', 'dist');
  if (existsSync(fault)) {
    cpSync(join(host, 'node_modules', '@intake-engine', 'intake'), join(host, 'fault'), { recursive: true });
    cpSync(fault, join(host, 'fault', 'dist'), { recursive: true });
  }
  server = await serve(host);
  browser = await launch();
});

after(async () => {
  await browser?.close();
  server?.stop();
});

/** A page on the portal that records CSP violations (the listener is installed before any page script). */
/** A gate (yes/no), 120 integer questions it shows (q1-q120), and one always there (end). */
function gatedForm(id) {
  const item = [{ linkId: 'gate', type: 'boolean', text: 'Any symptoms?' },
    ...Array.from({ length: 120 }, (_, i) => ({ linkId: `q${i + 1}`, type: 'integer', text: `Question ${i + 1}`,
      enableWhen: [{ question: 'gate', operator: '=', answerBoolean: true }] })),
    { linkId: 'end', type: 'string', text: 'Anything else?' }];
  return { resourceType: 'Questionnaire', id, status: 'active', item };
}

async function portalPage(path) {
  const p = await openPage(browser);
  await p.page.addInitScript(() => {
    window.cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => window.cspViolations.push(`${e.violatedDirective}: ${e.blockedURI}`));
  });
  await p.page.goto(server.url + path);
  await p.page.waitForSelector('body[data-ready=true]', { timeout: 20000 });
  return p;
}

const ALLOWED = [
  /^host\.html$/, /^host\.js$/, /^blank\.html$/, /^engine\.html$/, /^engine\.js$/, /^portal\.css$/, /^data\/[a-z-]+\.json$/,
  /^node_modules\/@intake-engine\/intake\/(index\.js|element\.js|dist\/intake_(web|sdc|rules|basic)\.js|dist\/intake_(web|sdc|rules|basic)_bg\.wasm|dist\/intake\.css)$/,
];

function assertOnlyOwnRequests(requests) {
  for (const r of requests) {
    assert.ok(r.startsWith(server.url), `request to another origin: ${r}`);
    const path = r.slice(server.url.length).split('?')[0];
    assert.ok(ALLOWED.some((re) => re.test(path)), `unexpected request: ${r}`);
  }
}

describe('the packed package in a plain-HTML portal', () => {
  it('installs from the tarball alone', () => {
    const files = readdirSync(join(host, 'node_modules', '@intake-engine', 'intake')).sort();
    assert.deepEqual(files, ['README.md', 'dist', 'element.d.ts', 'element.js', 'index.d.ts', 'index.js', 'package.json']);
  });

  it('renders two <intake-form>s and a mounted form, independently, under a strict CSP, with no request of its own', async () => {
    const { page, problems, requests, context } = await portalPage('host.html');
    const htn = page.locator('#htn');
    const ped = page.locator('#ped');
    await htn.locator('.ik-page h3').waitFor();
    await ped.locator('.ik-page h3').waitFor();
    await page.locator('#mounted .ik-page h3').waitFor();
    // Each in its own language, each with its own state (Shadow DOM).
    assert.equal(await htn.locator('.ik-title').textContent(), 'Blood pressure follow-up');
    assert.equal(await ped.locator('.ik-title').textContent(), 'Consulta por enfermedad de su hijo');
    await htn.getByRole('group', { name: /check your blood pressure at home/ }).getByLabel('Yes').check();
    await htn.locator('legend', { hasText: 'Your most recent home reading' }).waitFor();
    // The portal said a mother is answering: the relationship starts answered, not asked again.
    assert.equal(await ped.getByRole('group', { name: /relación/ }).getByLabel('Madre').isChecked(), true);
    await ped.getByRole('group', { name: /relación/ }).getByLabel('Padre').check();
    const events = await page.evaluate(() => window.events.map((e) => [e.id, e.type]));
    assert.ok(events.some(([id, t]) => id === 'htn' && t === 'intake-change'));
    assert.ok(events.some(([id, t]) => id === 'ped' && t === 'intake-change'));
    const htnQr = await page.evaluate(() => document.querySelector('#htn').getResponse());
    const pedQr = await page.evaluate(() => document.querySelector('#ped').getResponse());
    assert.equal(htnQr.subject.reference, 'Patient/maria-hernandez');
    assert.equal(pedQr.subject.reference, 'Patient/leo-hernandez');
    assert.ok(!JSON.stringify(pedQr).includes('home-bp-monitoring'), 'answers do not leak between forms');
    // Themable through the shadow boundary with a custom property.
    const accent = await htn.locator('.ik-primary').evaluate((b) => getComputedStyle(b).backgroundColor);
    assert.equal(accent, 'rgb(106, 27, 154)');
    // Submit the mounted form through the handle; the element submits through its method.
    const bundle = await page.evaluate(async () => {
      const root = document.querySelector('#mounted');
      root.querySelector('button.ik-primary').click();
      await new Promise((r) => setTimeout(r, 50));
      const reason = [...root.querySelectorAll('textarea')][0];
      reason.value = 'Annual check-up';
      reason.dispatchEvent(new Event('change', { bubbles: true }));
      for (let i = 0; i < 4; i++) { root.querySelector('button.ik-primary').click(); await new Promise((r) => setTimeout(r, 30)); }
      const never = [...root.querySelectorAll('label')].find((l) => l.textContent === 'Never');
      document.getElementById(never.htmlFor).click();
      await new Promise((r) => setTimeout(r, 30));
      return window.mounted.submit();
    });
    assert.equal(bundle.type, 'transaction');
    assert.ok((await page.evaluate(() => window.events)).some((e) => e.id === 'mounted' && e.type === 'submit'));
    assert.deepEqual(await page.evaluate(() => window.cspViolations), []);
    assert.deepEqual(problems, []);
    assertOnlyOwnRequests(requests);
    await context.close();
  });

  it('bad options give clear errors, never a blank page, and never lose answers', async () => {
    const { page, problems, requests, context } = await portalPage('host.html');
    const result = await page.evaluate(async () => {
      const { mount } = await import('./node_modules/@intake-engine/intake/index.js');
      const { maria, leo, htnVt } = window.data;
      const box = () => { const d = document.createElement('div'); document.querySelector('main').append(d); return d; };
      const attempt = async (opts) => {
        const el = box();
        const errors = [];
        try {
          const h = await mount(el, { ...opts, onError: (e) => errors.push(e.message) });
          return { ok: true, errors, text: el.textContent, h, el };
        } catch (e) {
          return { ok: false, message: e.message, errors, text: el.textContent };
        }
      };
      const out = {};
      out.unknownVisitType = await attempt({ visitType: 'no-such-visit', chart: maria });
      out.malformed = await attempt({ questionnaire: { resourceType: 'Questionnaire', item: [{ linkId: 'a', type: 'bogus' }] }, chart: maria });
      out.notJson = await attempt({ questionnaire: '{ "resourceType": "Questionnaire", ', chart: maria });
      // Given as text over several lines: the module lets the text go once it is parsed, and
      // takes it again from the options to say which line the problem is on.
      out.malformedText = await attempt({ questionnaire: JSON.stringify({ resourceType: 'Questionnaire', item: [{ linkId: 'a', type: 'string' }, { linkId: 'b', type: 'bogus' }] }, null, 2), chart: maria });
      out.otherPatient = await attempt({ visitType: htnVt, chart: leo, subject: 'Patient/maria-hernandez' });
      const broken = { ...htnVt, rules: { ...htnVt.rules, 'hypertension.rhai': 'let zero = 0;\nlet x = "a" * zero;\nask("cough", "x");' } };
      const ruleError = await attempt({ visitType: broken, chart: maria, storage: false });
      out.ruleError = { ok: ruleError.ok, errors: ruleError.errors, rendered: !!ruleError.h && ruleError.text.includes('Blood pressure follow-up') };
      // Answers entered, then a broken remount, then a good one: the answers are still there.
      localStorage.clear();
      const first = await attempt({ visitType: htnVt, chart: maria });
      const input = [...first.el.querySelectorAll('input[type=radio]')].find((i) => i.labels[0]?.textContent === 'No' && i.closest('fieldset')?.textContent.includes('check your blood pressure at home'));
      input.click();
      await new Promise((r) => setTimeout(r, 30));
      // Several forms in one document: ids (label targets, radio names, datalists) never collide.
      const ac = { resourceType: 'Questionnaire', item: [{ linkId: 'drug', type: 'open-choice', text: 'Medicine', answerOption: [{ valueString: 'aspirin' }],
        extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/questionnaire-itemControl', valueCodeableConcept: { coding: [{ system: 'http://hl7.org/fhir/questionnaire-item-control', code: 'autocomplete' }] } }] }] };
      const lists = [await attempt({ questionnaire: ac, chart: maria, storage: false }), await attempt({ questionnaire: ac, chart: maria, storage: false })];
      out.duplicateIds = { datalists: lists.map((l) => l.el.querySelectorAll('datalist').length) };
      const ids = [...document.querySelectorAll('[id]')].map((e) => e.id);
      out.duplicateIds.dup = ids.filter((id, i) => ids.indexOf(id) !== i);
      first.h.unmount();
      out.brokenRemount = await attempt({ visitType: { ...htnVt, questionnaire: { resourceType: 'Questionnaire', item: [{}] } }, chart: maria });
      const again = await attempt({ visitType: htnVt, chart: maria });
      const dizzy = again.h.getResponse();
      out.kept = JSON.stringify(dizzy).includes('"linkId":"home-bp-monitoring"');
      again.h.unmount();
      // Saved answers of one patient are never loaded into another's form, and are kept.
      const key = 'shared-device';
      const store = { m: new Map(), getItem(k) { return this.m.get(k) ?? null; }, setItem(k, v) { this.m.set(k, v); }, removeItem(k) { this.m.delete(k); } };
      const a = await attempt({ visitType: htnVt, chart: maria, storage: store, storageKey: key });
      [...a.el.querySelectorAll('input[type=radio]')][0].click();
      await new Promise((r) => setTimeout(r, 30));
      a.h.unmount();
      const b = await attempt({ visitType: htnVt, chart: window.data.sam, storage: store, storageKey: key });
      out.otherSaved = { errors: b.errors, keptForMaria: store.m.get(key)?.includes('Patient/maria-hernandez') };
      for (const k of Object.keys(out)) { delete out[k].h; delete out[k].el; }
      return out;
    });
    assert.equal(result.unknownVisitType.ok, false);
    assert.match(result.unknownVisitType.message, /"no-such-visit" is an id; pass the visit type itself/);
    assert.match(result.unknownVisitType.text, /This form cannot be shown/);
    assert.match(result.malformed.message, /Questionnaire\.item\[0\]\.type/);
    assert.match(result.notJson.message, /not valid JSON at line 1/);
    assert.match(result.malformedText.message, /^questionnaire:10:\d+: error: .*Questionnaire\.item\[1\]\.type/);
    assert.match(result.otherPatient.message, /options\.subject is Patient\/maria-hernandez, but the chart is for Patient\/leo-hernandez/);
    assert.deepEqual(result.ruleError.rendered, true, 'a broken rule does not stop the form');
    assert.ok(result.ruleError.errors.some((e) => /rules\/hypertension\.rhai:2:/.test(e)), JSON.stringify(result.ruleError.errors));
    assert.equal(result.brokenRemount.ok, false);
    assert.deepEqual(result.duplicateIds.datalists, [1, 1]);
    assert.deepEqual(result.duplicateIds.dup, []);
    assert.equal(result.kept, true, 'answers survive a failed remount');
    assert.ok(result.otherSaved.errors.some((e) => /are for Patient\/maria-hernandez .* not Patient\/sam-okafor .* not loaded and are kept/.test(e)), JSON.stringify(result.otherSaved));
    assert.equal(result.otherSaved.keptForMaria, true);
    assert.deepEqual(await page.evaluate(() => window.cspViolations), []);
    assert.deepEqual(problems, []);
    assertOnlyOwnRequests(requests);
    await context.close();
  });
});

describe('a portal using only the engine API', () => {
  it('answers, reads item states with reasons, and gets the Bundle, under the same CSP', async () => {
    const { page, problems, requests, context } = await portalPage('engine.html');
    const out = JSON.parse(await page.locator('#out').textContent());
    assert.ok(out.changed.length > 0);
    assert.deepEqual(out.revealed.map((r) => r.linkId), ['home-bp', 'home-bp-systolic', 'home-bp-diastolic', 'home-bp-date']);
    assert.match(out.revealed[0].reason, /You answered “Yes”/);
    assert.match(out.blocked, /need attention/);
    assert.deepEqual(out.problemsAfter, []);
    assert.equal(out.bundle.type, 'transaction');
    assert.ok(out.bundle.entry.some((e) => e.resource.resourceType === 'Observation' && e.resource.code.coding[0].code === '85354-9'));
    assert.deepEqual(await page.evaluate(() => window.cspViolations), []);
    assert.deepEqual(problems, []);
    assertOnlyOwnRequests(requests);
    await context.close();
  });
});

describe('TypeScript declarations', () => {
  const tsc = join(ROOT, 'tests', 'e2e', 'node_modules', '.bin', 'tsc');
  it('an example host type-checks against the installed package', () => {
    const r = spawnSync(tsc, ['--noEmit', '-p', 'tsconfig.json'], { cwd: host, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });
  it('a wrong use does not (the check is real)', () => {
    const r = spawnSync(tsc, ['--noEmit', '-p', 'tsconfig.bad.json'], { cwd: host, encoding: 'utf8' });
    assert.notEqual(r.status, 0);
    assert.match(r.stdout, /bad\.ts.*not assignable/s);
  });
});

describe('resuming never loses an answer and never reuses a stale submission (issue 13, items 3, 4, 6, 21)', () => {
  it('restores every saved entry that still fits, keeps the original, and says so', async () => {
    const { page, problems, context } = await portalPage('host.html');
    const out = await page.evaluate(async () => {
      const { mount, createSession } = await import('./node_modules/@intake-engine/intake/index.js');
      const { maria, htnVt } = window.data;
      const now = '2026-11-20T09:00:00-05:00';
      const s = await createSession({ visitType: htnVt, chart: maria, sessionId: 'resume-1', now });
      s.answer('home-bp-monitoring', true);
      s.answer('home-bp-systolic', 142);
      s.answer('home-bp-diastolic', 88);
      s.answer('missed-doses', 0);
      const snap = s.snapshot();
      const store = () => ({ m: new Map(), getItem(k) { return this.m.get(k) ?? null; }, setItem(k, v) { this.m.set(k, v); }, removeItem(k) { this.m.delete(k); } });
      const box = () => { const d = document.createElement('div'); document.querySelector('main').append(d); return d; };
      const open = async (st, key, extra = {}) => {
        const errors = [];
        const el = box();
        const h = await mount(el, { visitType: htnVt, chart: maria, storage: st, storageKey: key, now, onError: (e) => errors.push(e.message), ...extra });
        await new Promise((r) => setTimeout(r, 20));
        return { h, el, errors };
      };
      const answerOf = (qr, linkId) => {
        const walk = (items) => { for (const i of items ?? []) { if (i.linkId === linkId) return i.answer?.[0]; const a = walk(i.item) ?? walk(i.answer?.flatMap((x) => x.item ?? [])); if (a) return a; } };
        return walk(qr.item);
      };
      const out = {};
      // A renamed linkId sorted first and a value no longer valid: the rest still comes back.
      const st1 = store();
      const tampered = JSON.stringify({ ...snap, answers: { 'aaa-renamed-in-v2': 'x', ...snap.answers, 'missed-doses': 'lots' } });
      st1.setItem('k1', tampered);
      const a = await open(st1, 'k1');
      const qrA = a.h.getResponse();
      out.partial = {
        systolic: answerOf(qrA, 'home-bp-systolic'), diastolic: answerOf(qrA, 'home-bp-diastolic'),
        errors: a.errors, sentence: a.el.textContent.includes('could not be brought back'),
        kept: st1.getItem('k1:unrestored') === tampered, sessionId: a.h.sessionId,
      };
      a.h.unmount();
      // A snapshot cut short mid-entry: its complete entries come back.
      const st2 = store();
      const text = JSON.stringify(snap);
      // Cut inside the entry written after the diastolic reading (answers are in form order).
      const cut = text.slice(0, text.indexOf('"missed-doses"') + 10);
      st2.setItem('k2', cut);
      const b = await open(st2, 'k2');
      out.truncated = { diastolic: answerOf(b.h.getResponse(), 'home-bp-diastolic'), errors: b.errors, kept: st2.getItem('k2:unrestored') === cut };
      b.h.unmount();
      // createSession({ saved }) keeps the snapshot's session id, and refuses a snapshot that names no patient.
      const r = await createSession({ visitType: htnVt, chart: maria, now, saved: snap });
      out.resumedId = r.sessionId;
      out.inProgressIdentifier = 'identifier' in r.response();
      // The identifiers are those of the submission: confirmed alike, both sessions send the same Bundle.
      for (const x of [s, r]) {
        for (const row of x.items().filter((i) => i.linkId === 'medication.status' || i.linkId === 'allergy.status')) {
          x.answer(row.key, { system: 'http://intake-engine.org/fhir/CodeSystem/on-file-review', code: 'confirmed' });
        }
      }
      out.sameResponseId = r.bundle().identifier.value === s.bundle().identifier.value;
      const { patient, ...anonymous } = snap;
      try { await createSession({ visitType: htnVt, chart: maria, now, saved: anonymous }); out.anonymous = 'loaded'; } catch (e) { out.anonymous = e.message; }
      try { await createSession({ visitType: htnVt, chart: maria, now, saved: snap, sessionId: 'other' }); out.otherId = 'loaded'; } catch (e) { out.otherId = e.message; }
      const withBad = await createSession({ visitType: htnVt, chart: maria, now, saved: JSON.parse(tampered) });
      out.createProblems = withBad.restoreProblems();
      return out;
    });
    assert.deepEqual(out.partial.systolic, { valueInteger: 142 }, JSON.stringify(out));
    assert.deepEqual(out.partial.diastolic, { valueInteger: 88 });
    assert.equal(out.partial.sessionId, 'resume-1');
    assert.ok(out.partial.errors.some((e) => /aaa-renamed-in-v2/.test(e)), JSON.stringify(out.partial.errors));
    assert.ok(out.partial.errors.some((e) => /missed-doses/.test(e)), JSON.stringify(out.partial.errors));
    assert.equal(out.partial.sentence, true, 'the patient is told in one sentence');
    assert.equal(out.partial.kept, true, 'the original snapshot is kept until the patient sends');
    assert.deepEqual(out.truncated.diastolic, { valueInteger: 88 }, JSON.stringify(out.truncated));
    assert.ok(out.truncated.errors.some((e) => /cut short/.test(e)));
    assert.equal(out.truncated.kept, true);
    assert.equal(out.resumedId, 'resume-1');
    assert.equal(out.sameResponseId, true, 'a resumed session emits the same identifiers');
    assert.equal(out.inProgressIdentifier, false, 'a response in progress names no submission');
    assert.match(out.anonymous, /do not say which patient/);
    assert.match(out.otherId, /belongs to session resume-1/);
    assert.equal(out.createProblems.length, 2, JSON.stringify(out.createProblems));
    assert.deepEqual(problems, []);
    await context.close();
  });

  it('a long list resumed from autosave: every row reaches the page with its answer; Add at once moves focus into the new row', async () => {
    const { page, problems, context } = await portalPage('host.html');
    const out = await page.evaluate(async () => {
      const { mount } = await import('./node_modules/@intake-engine/intake/index.js');
      const n = 300;
      const questionnaire = { resourceType: 'Questionnaire', id: 'meds', status: 'active', title: 'Medicines',
        item: [{ linkId: 'row', type: 'group', repeats: true, text: 'Medicine', item: [
          { linkId: 'row.name', type: 'string', text: 'Name' }, { linkId: 'row.dose', type: 'integer', text: 'Dose' }] }] };
      const saved = { format: 'intake-answers/1', visit_type: 'meds', patient: 'Patient/p', session: 'long-1', page: 0,
        answers: { row: Array.from({ length: n }, (_, i) => ({ 'row.name': `medicine ${i}`, 'row.dose': i })) } };
      const store = { m: new Map([['long', JSON.stringify(saved)]]), getItem(k) { return this.m.get(k) ?? null; }, setItem(k, v) { this.m.set(k, v); }, removeItem(k) { this.m.delete(k); } };
      const el = document.createElement('div');
      document.querySelector('main').append(el);
      const errors = [];
      const h = await mount(el, { questionnaire, chart: { resourceType: 'Patient', id: 'p' }, storage: store, storageKey: 'long', now: '2026-11-20T09:00:00Z', onError: (e) => errors.push(e.message) });
      const rowsNow = () => el.querySelectorAll('.ik-row').length;
      const atMount = rowsNow();
      // The patient adds a medicine before the list has finished appearing.
      el.querySelector('.ik-add').click();
      for (let i = 0; i < 200 && rowsNow() < n + 1; i++) await new Promise((r) => requestAnimationFrame(r));
      await new Promise((r) => requestAnimationFrame(r));
      const rows = [...el.querySelectorAll('.ik-row')];
      const focusedRow = document.activeElement?.closest('.ik-row');
      const qr = h.getResponse();
      const groups = qr.item.filter((i) => i.linkId === 'row');
      return {
        atMount, total: rows.length, errors,
        row150: [...rows[150].querySelectorAll('input')].map((i) => i.value),
        focusedIsLast: focusedRow === rows[rows.length - 1], focusedTag: document.activeElement?.tagName,
        qrRows: groups.length, lastAnswered: groups[n - 1]?.item?.find((i) => i.linkId === 'row.name')?.answer?.[0],
      };
    });
    assert.ok(out.atMount > 0, 'the first rows are on the page when mount resolves');
    assert.equal(out.total, 301, JSON.stringify(out));
    assert.deepEqual(out.row150, ['medicine 150', '150']);
    assert.equal(out.focusedIsLast, true, 'focus moves into the added row');
    assert.equal(out.focusedTag, 'INPUT');
    assert.equal(out.qrRows, 300, 'the response holds every restored row');
    assert.deepEqual(out.lastAnswered, { valueString: 'medicine 299' });
    assert.deepEqual(out.errors, []);
    assert.deepEqual(problems, []);
    await context.close();
  });

  it('reuses a stored submission only when it is this session\'s, for these answers, and recent', async () => {
    const { page, problems, context } = await portalPage('host.html');
    const out = await page.evaluate(async () => {
      const { mount, createSession } = await import('./node_modules/@intake-engine/intake/index.js');
      const { maria, htnVt } = window.data;
      const now = '2026-11-20T09:00:00-05:00';
      const filled = async (systolic) => {
        const s = await createSession({ visitType: htnVt, chart: maria, sessionId: 'sent-1', now });
        s.answer('home-bp-monitoring', true);
        s.answer('home-bp-systolic', systolic);
        s.answer('home-bp-diastolic', 88);
        s.answer('missed-doses', 0);
        for (const row of s.items().filter((i) => i.linkId === 'medication.status' || i.linkId === 'allergy.status')) {
          s.answer(row.key, { system: 'http://intake-engine.org/fhir/CodeSystem/on-file-review', code: 'confirmed' });
        }
        return s;
      };
      const s142 = await filled(142);
      const s150 = await filled(150);
      const snap = s142.snapshot();
      const sent142 = JSON.stringify(s142.bundle());
      const sent150 = JSON.stringify(s150.bundle());
      const store = (text) => ({ m: new Map([['k', text]]), getItem(k) { return this.m.get(k) ?? null; }, setItem(k, v) { this.m.set(k, v); }, removeItem(k) { this.m.delete(k); } });
      const open = async (bundle, at = now, sent = true) => {
        const errors = [];
        const el = document.createElement('div');
        document.querySelector('main').append(el);
        const h = await mount(el, { visitType: htnVt, chart: maria, storage: store(JSON.stringify({ ...snap, bundle, sent })), storageKey: 'k', now: at, onError: (e) => errors.push(e.message) });
        await new Promise((r) => setTimeout(r, 20));
        const r = { thanks: !!el.querySelector('.ik-thanks'), errors, answered: JSON.stringify(h.getResponse()).includes('"valueInteger":142') };
        h.unmount();
        return r;
      };
      return {
        own: await open(sent142),
        unconfirmed: await open(sent142, now, false),
        otherAnswers: await open(sent150),
        earlierVisit: await open(sent142, '2026-11-23T09:00:00-05:00'),
        ids: [JSON.parse(sent142).identifier.value, JSON.parse(sent150).identifier.value],
      };
    });
    assert.deepEqual(out.own, { thanks: true, errors: [], answered: true }, 'positive control: its own confirmed submission resumes on the thanks page');
    assert.deepEqual(out.unconfirmed, { thanks: false, errors: [], answered: true }, 'a send the host never confirmed reopens the answers, not "Thank you"');
    assert.equal(out.otherAnswers.thanks, false, 'a Bundle for other answers is not reused');
    assert.ok(out.otherAnswers.errors.some((e) => /does not match these answers/.test(e)), JSON.stringify(out.otherAnswers));
    assert.equal(out.otherAnswers.answered, true, 'the answers are restored for sending again');
    assert.equal(out.earlierVisit.thanks, false, 'an earlier visit does not open on "Thank you"');
    assert.equal(out.earlierVisit.answered, false, 'nor with its answers');
    assert.ok(out.earlierVisit.errors.some((e) => /earlier visit/.test(e)));
    assert.notEqual(out.ids[0], out.ids[1], 'changed answers, new identifiers');
    assert.deepEqual(problems, []);
    await context.close();
  });

  it('a form whose handle the host dropped stays on the page through garbage collection', async () => {
    const { page, problems, context } = await portalPage('host.html');
    const out = await page.evaluate(async () => {
      const { mount } = await import('./node_modules/@intake-engine/intake/index.js');
      const el = document.createElement('div');
      document.querySelector('main').append(el);
      // The common embedding: mount and forget the handle.
      await mount(el, { questionnaire: { resourceType: 'Questionnaire', item: [{ linkId: 'a', type: 'string', text: 'Anything else?' }] },
        chart: window.data.maria, storage: false });
      const before = el.querySelectorAll('input, textarea').length;
      for (let i = 0; i < 5; i++) {
        window.gc();
        await new Promise((r) => setTimeout(r, 50));
      }
      return { before, after: el.querySelectorAll('input, textarea').length };
    });
    assert.ok(out.before > 0, JSON.stringify(out));
    assert.equal(out.after, out.before, 'the form is still there after GC');
    assert.deepEqual(problems, []);
    await context.close();
  });

  it('unmounting inside onSubmit, or removing <intake-form> in its submit listener, is safe', async () => {
    const { page, problems, context } = await portalPage('host.html');
    const out = await page.evaluate(async () => {
      const { mount } = await import('./node_modules/@intake-engine/intake/index.js');
      const q = { resourceType: 'Questionnaire', item: [{ linkId: 'a', type: 'string', text: 'Anything else?' }] };
      const el = document.createElement('div');
      document.querySelector('main').append(el);
      const errors = [];
      let h;
      let submitted = 0;
      h = await mount(el, { questionnaire: q, chart: window.data.maria, storage: false, onError: (e) => errors.push(e.message),
        onSubmit: () => { submitted++; h.unmount(); } });
      let thrown = null;
      try { await h.submit(); } catch (e) { thrown = e.message; }
      await new Promise((r) => setTimeout(r, 30));
      const mountedGone = el.childElementCount === 0;
      // The element: removed from the page inside its own submit listener.
      const form = document.createElement('intake-form');
      form.setAttribute('locale', 'en');
      form.questionnaire = q;
      form.chart = window.data.maria;
      form.storage = false;
      document.querySelector('main').append(form);
      await new Promise((r) => setTimeout(r, 200));
      form.addEventListener('intake-submit', () => form.remove());
      let elementThrown = null;
      try { await form.submit(); } catch (e) { elementThrown = e.message; }
      await new Promise((r) => setTimeout(r, 30));
      return { submitted, thrown, mountedGone, errors, elementThrown, elementGone: !form.isConnected };
    });
    assert.deepEqual(out, { submitted: 1, thrown: null, mountedGone: true, errors: [], elementThrown: null, elementGone: true });
    assert.deepEqual(problems, [], 'no uncaught page error');
    await context.close();
  });
});

describe('one patient action is one change to the host (issue 12)', () => {
  it('"Everything else here is still correct" confirms every row of the list with one onChange and one autosave', async () => {
    const { page, problems, context } = await portalPage('host.html');
    const out = await page.evaluate(async () => {
      const { mount, createSession } = await import('./node_modules/@intake-engine/intake/index.js');
      const { maria, htnVt } = window.data;
      const now = '2026-11-20T09:00:00-05:00';
      // The first page's one required answer, given before (resumed from autosave).
      const s = await createSession({ visitType: htnVt, chart: maria, now });
      s.answer('home-bp-monitoring', false);
      const el = document.createElement('div');
      document.querySelector('main').append(el);
      const writes = [];
      const store = { m: new Map([['k', JSON.stringify(s.snapshot())]]), getItem(k) { return this.m.get(k) ?? null; }, setItem(k, v) { writes.push(k); this.m.set(k, v); }, removeItem(k) { this.m.delete(k); } };
      let changes = 0;
      let last = null;
      const h = await mount(el, { visitType: htnVt, chart: maria, now, storage: store, storageKey: 'k', onChange: (qr) => { changes++; last = qr; } });
      const tick = () => new Promise((r) => setTimeout(r, 30));
      await tick();
      const button = () => [...el.querySelectorAll('button')].find((b) => b.textContent === 'Everything else here is still correct');
      for (let i = 0; i < 8 && !button(); i++) {
        el.querySelector('button.ik-primary').click();
        await tick();
      }
      const statuses = (qr) => JSON.stringify(qr).match(/"code":"confirmed"/g)?.length ?? 0;
      const rows = el.querySelectorAll('fieldset.ik-row.ik-on-file').length;
      const before = { changes, writes: writes.length, confirmed: statuses(h.getResponse()) };
      button().click();
      await tick();
      const after = { changes, writes: writes.length, confirmed: statuses(h.getResponse()), heard: statuses(last) };
      h.unmount();
      return { rows, before, after };
    });
    assert.ok(out.rows >= 2, `a list with several rows on file: ${JSON.stringify(out)}`);
    assert.equal(out.before.confirmed, 0, JSON.stringify(out));
    assert.equal(out.after.confirmed, out.rows, `every row confirmed: ${JSON.stringify(out)}`);
    assert.equal(out.after.changes - out.before.changes, 1, `one onChange: ${JSON.stringify(out)}`);
    assert.equal(out.after.writes - out.before.writes, 1, `one autosave: ${JSON.stringify(out)}`);
    assert.equal(out.after.heard, out.rows, 'the one onChange carries every confirmation');
    assert.deepEqual(problems, []);
    await context.close();
  });
});

describe('urgent advisories reach the patient at once (issue 10, part 1)', () => {
  it('a crisis reading with chest pain shows an alert on every page through thanks, and the host hears of it', async () => {
    const { page, problems, context } = await portalPage('host.html');
    const out = await page.evaluate(async () => {
      const { mount, createSession } = await import('./node_modules/@intake-engine/intake/index.js');
      const { maria, htnVt } = window.data;
      const now = '2026-11-20T09:00:00-05:00';
      const s = await createSession({ visitType: htnVt, chart: maria, sessionId: 'urgent-1', now, context: { reasons: ['bp-follow-up'] } });
      s.answer('home-bp-monitoring', true);
      s.answer('home-bp-systolic', 192);
      s.answer('home-bp-diastolic', 124);
      s.answer('missed-doses', 0);
      const before = s.snapshot();
      s.answer('crisis-symptoms', [{ system: 'http://snomed.info/sct', code: '29857009' }]);
      for (const row of s.items().filter((i) => i.linkId === 'medication.status' || i.linkId === 'allergy.status')) {
        s.answer(row.key, { system: 'http://intake-engine.org/fhir/CodeSystem/on-file-review', code: 'confirmed' });
      }
      const snap = s.snapshot();
      const store = (v) => ({ m: new Map([['k', JSON.stringify(v)]]), getItem(k) { return this.m.get(k) ?? null; }, setItem(k, x) { this.m.set(k, x); }, removeItem(k) { this.m.delete(k); } });
      const open = async (saved) => {
        const el = document.createElement('div');
        document.querySelector('main').append(el);
        const urgent = [];
        const changes = [];
        const h = await mount(el, { visitType: htnVt, chart: maria, now, storage: store(saved), storageKey: 'k', context: { reasons: ['bp-follow-up'] },
          onUrgent: (list) => urgent.push(list), onChange: (qr, info) => changes.push(info.urgent) });
        window.lastChanges = changes;
        await new Promise((r) => setTimeout(r, 30));
        return { el, h, urgent };
      };
      const calm = await open(before);
      const calmAlert = calm.el.querySelector('[role=alert] .ik-urgent');
      calm.h.unmount();
      const { el, h, urgent } = await open(snap);
      const alertText = () => el.querySelector('[role=alert] .ik-urgent')?.textContent ?? '';
      const first = alertText();
      // Next page, then the submit: the alert stays; onChange carries it too.
      el.querySelector('button.ik-primary').click();
      await new Promise((r) => setTimeout(r, 30));
      const later = alertText();
      const bundle = await h.submit();
      await new Promise((r) => setTimeout(r, 30));
      return {
        calm: calmAlert === null,
        first, later, onThanks: !!el.querySelector('.ik-thanks') && alertText() === first,
        urgent: urgent.map((l) => l.map((a) => a.reason)),
        stat: bundle.entry.filter((e) => e.resource.resourceType === 'Task' && e.resource.priority === 'stat').map((e) => e.resource.description),
        focusInAlert: el.querySelector('[role=alert]').contains(document.activeElement),
        onChangeUrgent: window.lastChanges.at(-1),
      };
    });
    assert.equal(out.calm, true, 'no alert while no warning sign is reported');
    assert.match(out.first, /Get medical help now/);
    assert.match(out.first, /very high and you have a warning sign.*Call 911/s);
    assert.equal(out.later, out.first, 'still shown on the next page');
    assert.equal(out.onThanks, true, 'still shown on the thanks page');
    assert.deepEqual(out.urgent, [['Your blood pressure is very high and you have a warning sign of a medical emergency.']]);
    assert.equal(out.stat.length, 1);
    assert.match(out.stat[0], /^URGENT: .* The patient was told: .*Call 911/);
    assert.equal(out.focusInAlert, false, 'the alert takes no focus');
    assert.ok(out.onChangeUrgent?.length === 1 && /Call 911/.test(out.onChangeUrgent[0]), `onChange exposes it: ${JSON.stringify(out.onChangeUrgent)}`);
    assert.deepEqual(problems, []);
    await context.close();
  });
});

describe('a submit the host acknowledges (issue 10, part 2)', () => {
  it('"sent" only after the host confirms; a rejection or a throw offers a retry of the same Bundle; nothing is lost', async () => {
    const { page, problems, context } = await portalPage('host.html');
    const out = await page.evaluate(async () => {
      const { mount } = await import('./node_modules/@intake-engine/intake/index.js');
      const q = { resourceType: 'Questionnaire', item: [{ linkId: 'a', type: 'string', text: 'Anything else?' }] };
      const tick = (ms = 30) => new Promise((r) => setTimeout(r, ms));
      const state = (el) => ({
        thanks: !!el.querySelector('.ik-thanks'),
        failed: el.querySelector('.ik-send-failed')?.textContent ?? null,
        button: el.querySelector('button.ik-primary')?.textContent ?? null,
        disabled: el.querySelector('button.ik-primary')?.disabled ?? null,
      });
      const run = async (onSubmit, extra = {}) => {
        const el = document.createElement('div');
        document.querySelector('main').append(el);
        const errors = [];
        const ids = [];
        const store = { m: new Map(), getItem(k) { return this.m.get(k) ?? null; }, setItem(k, v) { this.m.set(k, v); }, removeItem(k) { this.m.delete(k); } };
        const h = await mount(el, { questionnaire: q, chart: window.data.maria, storage: store, storageKey: 'k', onError: (e) => errors.push(e.message),
          onSubmit: (b) => { ids.push(b.identifier.value); return onSubmit(ids.length); }, ...extra });
        const input = el.querySelector('input, textarea');
        input.value = 'a headache since Monday';
        input.dispatchEvent(new Event('change', { bubbles: true }));
        await tick();
        el.querySelector('button.ik-primary').click(); // to the review page
        await tick();
        el.querySelector('button.ik-primary').click(); // Send
        await tick();
        return { el, h, errors, ids, store };
      };
      const out = {};
      // The host's server takes its time, then confirms.
      let release;
      const slow = await run(() => new Promise((r) => { release = r; }));
      out.slowWhileSending = state(slow.el);
      release();
      await tick();
      out.slowAfter = state(slow.el);
      out.slowSavedCleared = slow.store.getItem('k') === null;
      // The host's server refuses, then accepts the retry.
      const refused = await run((n) => (n === 1 ? Promise.reject(new Error('HTTP 503')) : Promise.resolve()));
      out.refused = state(refused.el);
      out.refusedErrors = refused.errors;
      out.refusedKept = JSON.stringify(refused.h.getResponse()).includes('a headache since Monday');
      refused.el.querySelector('button.ik-primary').click(); // Try sending again
      await tick();
      out.retried = state(refused.el);
      out.retryIds = refused.ids;
      // onSubmit throws.
      const thrown = await run(() => { throw new Error('network down'); });
      out.thrown = state(thrown.el);
      // keepAfterSubmit: the saved answers stay, and a remount opens on "Thank you".
      const kept = await run(() => Promise.resolve(), { keepAfterSubmit: true });
      out.keptSaved = (kept.store.getItem('k') ?? '').includes('"sent":true');
      return out;
    });
    assert.deepEqual(out.slowWhileSending, { thanks: false, failed: null, button: 'Sending…', disabled: true });
    assert.equal(out.slowAfter.thanks, true, '"sent" once the host confirmed');
    assert.equal(out.slowSavedCleared, true, 'saved answers are cleared after a confirmed send');
    assert.equal(out.refused.thanks, false);
    assert.match(out.refused.failed, /could not be sent\. Nothing is lost/);
    assert.equal(out.refused.button, 'Try sending again');
    assert.ok(out.refusedErrors.some((e) => /sending failed: HTTP 503/.test(e)), JSON.stringify(out.refusedErrors));
    assert.equal(out.refusedKept, true);
    assert.equal(out.retried.thanks, true);
    assert.equal(out.retryIds.length, 2);
    assert.equal(new Set(out.retryIds).size, 1, 'the retry sends the same Bundle identifier');
    assert.match(out.thrown.failed, /could not be sent/);
    assert.equal(out.keptSaved, true);
    assert.deepEqual(problems, []);
    await context.close();
  });

  it('text is saved as the patient types, so a reload mid-word loses nothing', async () => {
    const { page, problems, context } = await portalPage('host.html');
    const out = await page.evaluate(async () => {
      const { mount } = await import('./node_modules/@intake-engine/intake/index.js');
      const q = { resourceType: 'Questionnaire', item: [{ linkId: 'a', type: 'string', text: 'Anything else?' }, { linkId: 'n', type: 'integer', text: 'How many?' }] };
      const store = { m: new Map(), getItem(k) { return this.m.get(k) ?? null; }, setItem(k, v) { this.m.set(k, v); }, removeItem(k) { this.m.delete(k); } };
      const open = async () => {
        const el = document.createElement('div');
        document.querySelector('main').append(el);
        const h = await mount(el, { questionnaire: q, chart: window.data.maria, storage: store, storageKey: 'k' });
        return { el, h };
      };
      const first = await open();
      const [text, num] = first.el.querySelectorAll('input');
      // Keystrokes only: no change event (the tab is closed mid-word).
      for (const [input, typed] of [[text, 'headache sin'], [num, '1']]) {
        input.value = typed;
        input.dispatchEvent(new Event('input', { bubbles: true }));
      }
      await new Promise((r) => setTimeout(r, 600));
      const saved = store.getItem('k');
      first.h.unmount();
      const second = await open();
      const [text2, num2] = second.el.querySelectorAll('input');
      return { saved: saved?.includes('headache sin'), text: text2.value, num: num2.value, qr: JSON.stringify(second.h.getResponse()) };
    });
    assert.equal(out.saved, true, 'saved while typing');
    assert.equal(out.text, 'headache sin');
    assert.equal(out.num, '1');
    assert.ok(out.qr.includes('"valueString":"headache sin"') && out.qr.includes('"valueInteger":1'), out.qr);
    assert.deepEqual(problems, []);
    await context.close();
  });

  it('<intake-form> waits for event.detail.waitUntil(promise)', async () => {
    const { page, problems, context } = await portalPage('host.html');
    const out = await page.evaluate(async () => {
      const form = document.createElement('intake-form');
      form.setAttribute('locale', 'en');
      form.questionnaire = { resourceType: 'Questionnaire', item: [{ linkId: 'a', type: 'string', text: 'Anything else?' }] };
      form.chart = window.data.maria;
      form.storage = false;
      document.querySelector('main').append(form);
      await new Promise((r) => setTimeout(r, 200));
      let release;
      form.addEventListener('intake-submit', (e) => e.detail.waitUntil(new Promise((r) => { release = r; })));
      await form.submit();
      await new Promise((r) => setTimeout(r, 30));
      const root = form.shadowRoot;
      const during = !!root.querySelector('.ik-thanks');
      release();
      await new Promise((r) => setTimeout(r, 30));
      return { during, after: !!root.querySelector('.ik-thanks') };
    });
    assert.deepEqual(out, { during: false, after: true });
    assert.deepEqual(problems, []);
    await context.close();
  });
});

describe('inputs that fit the patient (issue 10, part 3)', () => {
  it('dates in the patient\'s locale, and chart-filled fields with autocomplete tokens', async () => {
    const { page, problems, context } = await portalPage('host.html');
    const out = await page.evaluate(async () => {
      const { mount } = await import('./node_modules/@intake-engine/intake/index.js');
      const { maria, htnVt, newVt, sam } = window.data;
      // The birth date is typed (not a picker): month/day/year in English, day/month/year in Spanish.
      const dated = async (locale, typed) => {
        const el = document.createElement('div');
        document.querySelector('main').append(el);
        const h = await mount(el, { visitType: newVt, chart: sam, locale, storage: false });
        await new Promise((r) => setTimeout(r, 30));
        const input = [...el.querySelectorAll('input')].find((i) => /Date of birth|Fecha de nacimiento/.test(i.labels?.[0]?.textContent ?? ''));
        input.value = typed;
        input.dispatchEvent(new Event('change', { bubbles: true }));
        await new Promise((r) => setTimeout(r, 30));
        const qr = JSON.stringify(h.getResponse());
        const shown = input.value;
        const keyboard = input.inputMode;
        h.unmount();
        return { stored: /"valueDate":"1991-11-02"/.test(qr), shown, keyboard };
      };
      // The measurement date of a home reading is a native picker.
      const pickerEl = document.createElement('div');
      document.querySelector('main').append(pickerEl);
      const pickerSaved = { format: 'intake-answers/1', visit_type: 'hypertension-follow-up', patient: 'Patient/maria-hernandez', session: 'p', answers: { 'home-bp-monitoring': true } };
      const ph = await mount(pickerEl, { visitType: htnVt, chart: maria, locale: 'en', storageKey: 'p', storage: { getItem: () => JSON.stringify(pickerSaved), setItem() {}, removeItem() {} } });
      await new Promise((r) => setTimeout(r, 30));
      const picker = [...pickerEl.querySelectorAll('input')].find((i) => /When did you take it/.test(i.labels?.[0]?.textContent ?? ''));
      const pickerType = picker?.type;
      ph.unmount();
      const el = document.createElement('div');
      document.querySelector('main').append(el);
      const h = await mount(el, { visitType: newVt, chart: sam, locale: 'en', storage: false });
      await new Promise((r) => setTimeout(r, 30));
      const tokens = [...el.querySelectorAll('input')].map((i) => `${i.type}:${i.autocomplete}`);
      h.unmount();
      // Units: US English defaults to inches and pounds, Spanish to cm and kg; 5'7" is 67 in.
      const measured = async (locale) => {
        const e = document.createElement('div');
        document.querySelector('main').append(e);
        const saved = { format: 'intake-answers/1', visit_type: 'new-patient-adult', patient: 'Patient/sam-okafor', session: `u-${locale}`, page: 6, answers: { reason: 'Check-up' } };
        const hh = await mount(e, { visitType: newVt, chart: sam, locale, storageKey: `u-${locale}`,
          storage: { getItem: () => JSON.stringify(saved), setItem() {}, removeItem() {} } });
        await new Promise((r) => setTimeout(r, 30));
        const selects = [...e.querySelectorAll('select')].map((x) => x.value);
        const height = [...e.querySelectorAll('input[type=text]')].find((i) => /Height|Estatura|Altura/.test(i.closest('.ik-q')?.textContent ?? ''));
        height.value = locale === 'en' ? `5'7"` : '170';
        height.dispatchEvent(new Event('change', { bubbles: true }));
        await new Promise((r) => setTimeout(r, 30));
        const find = (items) => (items ?? []).flatMap((i) => [i, ...find(i.item)]);
        const h = find(hh.getResponse().item).find((i) => i.linkId === 'height')?.answer?.[0]?.valueQuantity;
        hh.unmount();
        return { selects, height: h && [h.value, h.code] };
      };
      return { en: await dated('en', '11/02/1991'), es: await dated('es', '02/11/1991'), iso: await dated('en', '1991-11-02'), tokens, pickerType,
        unitsEn: await measured('en'), unitsEs: await measured('es') };
    });
    assert.deepEqual(out.unitsEn, { selects: ['[in_i]', '[lb_av]'], height: [67, '[in_i]'] }, JSON.stringify(out.unitsEn));
    assert.deepEqual(out.unitsEs, { selects: ['cm', 'kg'], height: [170, 'cm'] }, JSON.stringify(out.unitsEs));
    assert.deepEqual(out.en, { stored: true, shown: '11/2/1991', keyboard: '' });
    assert.deepEqual(out.es, { stored: true, shown: '2/11/1991', keyboard: '' });
    assert.equal(out.pickerType, 'date', 'a recent measurement date is a native picker');
    assert.equal(out.iso.stored, true, 'ISO still works');
    for (const t of ['text:given-name', 'text:family-name', 'tel:tel', 'email:email', 'text:postal-code', 'text:address-line1']) {
      assert.ok(out.tokens.includes(t), `${t} in ${out.tokens}`);
    }
    assert.deepEqual(problems, []);
    await context.close();
  });
});

describe('words a patient understands (issue 10, part 4)', () => {
  it('"I have no known allergies" is one box to tick, not a Yes/No double negative', async () => {
    const { page, problems, context } = await portalPage('host.html');
    const out = await page.evaluate(async () => {
      const { mount } = await import('./node_modules/@intake-engine/intake/index.js');
      const { newVt, sam } = window.data;
      const el = document.createElement('div');
      document.querySelector('main').append(el);
      const saved = { format: 'intake-answers/1', visit_type: 'new-patient-adult', patient: 'Patient/sam-okafor', session: 'nka', page: 2, answers: { reason: 'Check-up' } };
      const h = await mount(el, { visitType: newVt, chart: sam, locale: 'en', storageKey: 'nka',
        storage: { getItem: () => JSON.stringify(saved), setItem() {}, removeItem() {} } });
      await new Promise((r) => setTimeout(r, 30));
      const box = [...el.querySelectorAll('input[type=checkbox]')].find((i) => i.labels?.[0]?.textContent.includes('I have no known allergies'));
      const radios = [...el.querySelectorAll('input[type=radio]')].filter((i) => i.closest('.ik-q')?.textContent.includes('no known allergies'));
      box.click();
      await new Promise((r) => setTimeout(r, 30));
      const find = (items) => (items ?? []).flatMap((i) => [i, ...find(i.item)]);
      const nka = () => find(h.getResponse().item).find((i) => i.linkId === 'allergies.none');
      const ticked = JSON.stringify(nka()?.answer) === '[{"valueBoolean":true}]';
      box.click();
      await new Promise((r) => setTimeout(r, 30));
      const cleared = nka() === undefined;
      return { found: !!box, radios: radios.length, ticked, cleared };
    });
    assert.deepEqual(out, { found: true, radios: 0, ticked: true, cleared: true });
    assert.deepEqual(problems, []);
    await context.close();
  });
});

describe('theming (issue 10, part 4)', () => {
  it('a dark theme from the README\'s custom properties passes axe on every page state, and parts are styleable from outside', async () => {
    const { page, problems, context } = await portalPage('host.html');
    await page.evaluate(async () => {
      const form = document.createElement('intake-form');
      form.id = 'dark';
      form.setAttribute('locale', 'en');
      // The dark theme of pkg/README.md (set through the CSSOM: a style attribute is refused by
      // the portal's strict CSP, as it should be).
      const theme = [
        '--ik-bg: #14181d', '--ik-text: #e8eaed', '--ik-muted: #b4bcc6', '--ik-accent: #7cc4e8', '--ik-accent-text: #0b1a22',
        '--ik-error: #ff8a8a', '--ik-field-bg: #1d232a', '--ik-border: #8b95a1', '--ik-frame: #3a434d', '--ik-on-file-bg: #182631',
        '--ik-on-file-border: #3d6478', '--ik-why-bg: #1a2a33', '--ik-warn-bg: #3a2e12', '--ik-warn-border: #e0b040',
        '--ik-urgent-bg: #3b1114', '--ik-urgent-text: #ffd7d7', '--ik-urgent-border: #ff6b6b', '--ik-focus: #ffb366',
      ];
      for (const decl of theme) {
        const [name, value] = decl.split(':').map((x) => x.trim());
        form.style.setProperty(name, value);
      }
      form.visitType = window.data.htnVt;
      form.chart = window.data.maria;
      // Every page state: a crisis reading with chest pain (the urgent alert shows), all
      // answered, so the test can walk every page, the review and the thanks page.
      const { createSession } = await import('./node_modules/@intake-engine/intake/index.js');
      const s = await createSession({ visitType: window.data.htnVt, chart: window.data.maria, sessionId: 'dark-1' });
      s.answer('home-bp-monitoring', true);
      s.answer('home-bp-systolic', 192);
      s.answer('home-bp-diastolic', 124);
      s.answer('crisis-symptoms', [{ system: 'http://snomed.info/sct', code: '29857009' }]);
      s.answer('missed-doses', 0);
      for (const row of s.items().filter((i) => i.linkId === 'medication.status' || i.linkId === 'allergy.status')) {
        s.answer(row.key, { system: 'http://intake-engine.org/fhir/CodeSystem/on-file-review', code: 'confirmed' });
      }
      const snap = JSON.stringify(s.snapshot());
      form.storage = { getItem: () => snap, setItem() {}, removeItem() {} };
      const h1 = document.createElement('h1');
      h1.textContent = 'Your visit';
      document.querySelector('main').replaceChildren(h1, form);
      await new Promise((r) => setTimeout(r, 300));
    });
    await page.locator('#dark .ik-page h3').waitFor();
    // What the page logged before axe ran: axe-core itself applies an inline style while it
    // measures contrast inside Shadow DOM, which this portal's strict CSP (rightly) refuses.
    const ours = [...problems];
    const colours = await page.evaluate(() => {
      const root = document.querySelector('#dark').shadowRoot;
      const bg = getComputedStyle(root.querySelector('.ik')).backgroundColor;
      const parts = [...root.querySelectorAll('[part]')].map((e) => e.getAttribute('part'));
      return { bg, parts: [...new Set(parts)] };
    });
    // axe on every page, the review page and the thanks page.
    const violations = [];
    for (let step = 0; step < 12; step++) {
      const state = await page.evaluate(() => {
        const root = document.querySelector('#dark').shadowRoot;
        return root.querySelector('.ik-thanks') ? 'thanks' : root.querySelector('.ik-review') ? 'review' : root.querySelector('.ik-page h3')?.textContent;
      });
      violations.push(...(await axe(page)).map((v) => `${state}: ${v}`));
      if (state === 'thanks') break;
      await page.evaluate(async () => {
        document.querySelector('#dark').shadowRoot.querySelector('button.ik-primary').click();
        await new Promise((r) => setTimeout(r, 50));
      });
    }
    const reachedThanks = await page.evaluate(() => !!document.querySelector('#dark').shadowRoot.querySelector('.ik-thanks'));
    assert.equal(reachedThanks, true, 'walked every page to the thanks page');
    assert.deepEqual(violations, []);
    assert.equal(colours.bg, 'rgb(20, 24, 29)');
    for (const p of ['form', 'title', 'page', 'question', 'button primary', 'progress']) assert.ok(colours.parts.includes(p), `${p} in ${colours.parts}`);
    assert.deepEqual(ours, []);
    await context.close();
  });
});

describe('every red flag reaches the patient (issue 10, part 1)', () => {
  it('each shipped red flag shows the alert at once and tells the host; "None of these" and the others never stand together', async () => {
    const { page, problems, context } = await portalPage('host.html');
    const out = await page.evaluate(async () => {
      const { mount } = await import('./node_modules/@intake-engine/intake/index.js');
      const { htnVt, pedVt, newVt, maria, leo, sam } = window.data;
      const now = '2026-11-20T09:00:00-05:00';
      const infant = { resourceType: 'Patient', id: 'baby', birthDate: '2026-10-02', gender: 'female' };
      const proxy = { reasons: ['sick-visit'], respondent: { relationship: 'MTH', name: 'Ana' } };
      const cases = [
        ['hypertensive emergency', htnVt, maria, 'Patient/maria-hernandez', {}, { 'home-bp-monitoring': true, 'home-bp-systolic': 186, 'home-bp-diastolic': 121, 'crisis-symptoms': [{ system: 'http://snomed.info/sct', code: '267036007' }] }, 'very high'],
        ['child breathing fast', pedVt, leo, 'Patient/leo-hernandez', proxy, { symptoms: [{ system: 'http://snomed.info/sct', code: '49727002' }], 'breathing-fast': true }, 'breathing fast'],
        ['fever of 40.6 °C', pedVt, leo, 'Patient/leo-hernandez', proxy, { symptoms: [{ system: 'http://snomed.info/sct', code: '386661006' }], 'fever-max': { value: 40.6, unit: 'Cel' } }, 'very high (40.5'],
        ['no wet diapers', pedVt, leo, 'Patient/leo-hernandez', proxy, { 'wet-diapers': 0 }, 'dehydrated'],
        ['fever under 3 months', pedVt, infant, 'Patient/baby', proxy, { symptoms: [{ system: 'http://snomed.info/sct', code: '386661006' }] }, 'younger than 3 months'],
        ['chest pain now', newVt, sam, 'Patient/sam-okafor', {}, { 'chest-pain-now': true }, 'heart attack'],
        ['self-harm thoughts', newVt, sam, 'Patient/sam-okafor', {}, { 'self-harm-thoughts': true }, '988'],
      ];
      const results = {};
      for (const [name, vt, chart, patient, ctx, answers] of cases) {
        const el = document.createElement('div');
        document.querySelector('main').append(el);
        const saved = { format: 'intake-answers/1', visit_type: vt.id ?? vt.manifest.id, patient, session: name, answers };
        const heard = [];
        const h = await mount(el, { visitType: vt, chart, now, locale: 'en', context: ctx, storageKey: name,
          storage: { getItem: () => JSON.stringify(saved), setItem() {}, removeItem() {} }, onUrgent: (l) => heard.push(...l.map((a) => a.reason)) });
        await new Promise((r) => setTimeout(r, 30));
        results[name] = { alert: el.querySelector('[role=alert] .ik-urgent')?.textContent ?? '', heard };
        h.unmount();
      }
      // optionExclusive in the browser: tick two warning signs, then "None of these", then one sign.
      const el = document.createElement('div');
      document.querySelector('main').append(el);
      const saved = { format: 'intake-answers/1', visit_type: 'hypertension-follow-up', patient: 'Patient/maria-hernandez', session: 'x', answers: { 'home-bp-monitoring': true, 'home-bp-systolic': 186, 'home-bp-diastolic': 121 } };
      const h = await mount(el, { visitType: htnVt, chart: maria, now, locale: 'en', storageKey: 'x', storage: { getItem: () => JSON.stringify(saved), setItem() {}, removeItem() {} } });
      await new Promise((r) => setTimeout(r, 30));
      const box = (label) => [...el.querySelectorAll('input[type=checkbox]')].find((i) => i.labels?.[0]?.textContent === label);
      const ticked = () => [...el.querySelectorAll('input[type=checkbox]')].filter((i) => i.checked && i.closest('.ik-q')?.textContent.includes('None of these')).map((i) => i.labels[0].textContent);
      const click = async (label) => { box(label).click(); await new Promise((r) => setTimeout(r, 30)); return ticked(); };
      const steps = [await click('Chest pain'), await click('Shortness of breath'), await click('None of these'), await click('Vision changes')];
      h.unmount();
      return { results, steps };
    });
    for (const [name, want] of [['hypertensive emergency', 'very high'], ['child breathing fast', 'breathing fast'], ['fever of 40.6 °C', 'very high (40.5'],
      ['no wet diapers', 'dehydrated'], ['fever under 3 months', 'younger than 3 months'], ['chest pain now', 'heart attack'], ['self-harm thoughts', '988']]) {
      const r = out.results[name];
      assert.ok(r.alert.includes(want) && /Call 911/.test(r.alert), `${name}: ${JSON.stringify(r)}`);
      assert.ok(r.heard.some((x) => x.includes(want)), `${name}: the host hears of it: ${JSON.stringify(r.heard)}`);
    }
    assert.deepEqual(out.steps, [['Chest pain'], ['Chest pain', 'Shortness of breath'], ['None of these'], ['Vision changes']]);
    assert.deepEqual(problems, []);
    await context.close();
  });
});

describe('SDC expressions in the browser (issue 8)', () => {
  it('PHQ-9 from LHC-Forms: the total score follows every answer, and reaches the host', async () => {
    const phq9 = JSON.parse(readFileSync(join(ROOT, '..', 'shared', 'corpus', 'questionnaires', 'lforms', 'R4', 'phq9.json'), 'utf8'));
    const { page, problems, context } = await portalPage('host.html');
    const out = await page.evaluate(async (questionnaire) => {
      const { mount } = await import('./node_modules/@intake-engine/intake/index.js');
      const el = document.createElement('div');
      document.querySelector('main').append(el);
      const errors = [];
      let last = null;
      const h = await mount(el, { questionnaire, chart: { resourceType: 'Patient', id: 'p' }, storage: false, onError: (e) => errors.push(e.message), onChange: (qr) => { last = qr; } });
      const tick = () => new Promise((r) => setTimeout(r, 30));
      const labels = ['Not at all', 'Several days', 'More than half the days', 'Nearly every day'];
      // LHC-Forms' PHQ-9 asks for drop-downs.
      const questions = [...el.querySelectorAll('.ik-q')].filter((q) => q.querySelector('select')?.options.length === 5).slice(0, 9);
      const total = () => [...el.querySelectorAll('.ik-q')].find((q) => /total score/i.test(q.textContent))?.querySelector('input')?.value;
      const seen = [total()];
      let optionTexts = [];
      for (const [k, q] of questions.entries()) {
        const select = q.querySelector('select');
        // Options show the form's optionPrefix (the score) before their name: "1. Several days".
        if (k === 0) optionTexts = [...select.options].map((o) => o.textContent);
        select.selectedIndex = [...select.options].findIndex((o) => o.textContent.endsWith(labels[(k * 7 + 1) % 4]));
        select.dispatchEvent(new Event('change', { bubbles: true }));
        await tick();
        seen.push(total());
      }
      const score = h.getResponse().item.find((i) => i.linkId === '/44261-6')?.answer?.[0];
      const heard = last?.item?.find((i) => i.linkId === '/44261-6')?.answer?.[0];
      h.unmount();
      return { seen, score, heard, errors, questions: questions.length, optionTexts };
    }, phq9);
    assert.equal(out.questions, 9, JSON.stringify(out));
    // As LHC-Forms shows them: the bare-number prefix gets a full stop.
    assert.deepEqual(out.optionTexts, ['Choose…', '0. Not at all', '1. Several days', '2. More than half the days', '3. Nearly every day']);
    // Scores of the answers given: 1, 0, 3, 2, 1, 0, 3, 2, 1.
    assert.deepEqual(out.seen, ['', '1', '1', '4', '6', '7', '7', '10', '12', '13']);
    assert.deepEqual(out.score, { valueDecimal: 13 });
    assert.deepEqual(out.heard, { valueDecimal: 13 }, 'onChange carries the calculated total');
    assert.deepEqual(out.errors.filter((e) => /expression/.test(e)), []);
    assert.deepEqual(problems, []);
    await context.close();
  });

  it('options an answerExpression computes, options a toggle turns off, and text a cqf-expression computes follow the answers', async () => {
    const fruit = (code, display) => ({ system: 'http://example.org/fruit', code, display });
    const fp = (expression) => ({ language: 'text/fhirpath', expression });
    const questionnaire = { resourceType: 'Questionnaire', id: 'computed', status: 'active', item: [
      { linkId: 'likes', type: 'string', text: 'Fruit you like', repeats: true },
      { linkId: 'best', type: 'choice', text: 'Which is best?', extension: [
        { url: 'http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-answerExpression', valueExpression: fp("%resource.item.where(linkId = 'likes').answer.value") }] },
      { linkId: 'pregnant', type: 'boolean', text: 'Are you pregnant?' },
      { linkId: 'drink', type: 'choice', text: 'Drink',
        _text: { extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/cqf-expression',
          valueExpression: fp("iif(%resource.item.where(linkId = 'pregnant').answer.value = true, 'Drink (safe in pregnancy)', 'Drink')") }] },
        answerOption: [{ valueCoding: fruit('j', 'Juice') }, { valueCoding: fruit('w', 'Wine') }],
        extension: [{ url: 'http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-answerOptionsToggleExpression', extension: [
          { url: 'option', valueCoding: fruit('w', 'Wine') },
          { url: 'expression', valueExpression: fp("%resource.item.where(linkId = 'pregnant').answer.value.where($this = true).empty()") }] }] }] };
    const { page, problems, context } = await portalPage('host.html');
    const out = await page.evaluate(async (questionnaire) => {
      const { mount } = await import('./node_modules/@intake-engine/intake/index.js');
      const el = document.createElement('div');
      document.querySelector('main').append(el);
      const errors = [];
      const h = await mount(el, { questionnaire, chart: { resourceType: 'Patient', id: 'p' }, storage: false, onError: (e) => errors.push(e.message) });
      const tick = () => new Promise((r) => setTimeout(r, 60));
      const q = (text) => [...el.querySelectorAll('.ik-q')].find((x) => x.textContent.includes(text));
      // An option's own label is its last (the first option also carries the question's).
      const optionLabel = (i) => [...i.labels].at(-1)?.textContent;
      const options = (text) => [...q(text).querySelectorAll('input[type=radio], input[type=checkbox]')].map((i) => `${optionLabel(i)}${i.disabled ? ' (off)' : ''}`);
      const out = { before: options('Which is best?') };
      const likes = q('Fruit you like').querySelector('input');
      likes.value = 'mango';
      likes.dispatchEvent(new Event('change', { bubbles: true }));
      await tick();
      out.after = options('Which is best?');
      out.drinkBefore = options('Drink');
      out.labelBefore = q('Drink').querySelector('legend, label').textContent;
      [...q('Are you pregnant?').querySelectorAll('input')].find((i) => optionLabel(i) === 'Yes').click();
      await tick();
      out.drinkAfter = options('Drink');
      out.labelAfter = q('Drink (safe').querySelector('legend, label').textContent;
      out.best = h.getResponse().item.find((i) => i.linkId === 'best');
      h.unmount();
      return { ...out, errors };
    }, questionnaire);
    assert.deepEqual(out.before, [], JSON.stringify(out));
    assert.deepEqual(out.after, ['mango']);
    assert.deepEqual(out.drinkBefore, ['Juice', 'Wine']);
    assert.deepEqual(out.drinkAfter, ['Juice', 'Wine (off)']);
    assert.match(out.labelBefore, /^Drink/);
    assert.match(out.labelAfter, /Drink \(safe in pregnancy\)/);
    assert.deepEqual(out.errors.filter((e) => /expression|not supported/.test(e)), []);
    assert.deepEqual(problems, []);
    await context.close();
  });
});

describe('items written as HTML with their parts (web/src/html.rs, Markup::holding)', () => {
  it('group and display text an expression computes, follow-ups under their question, and the invalid mark follow the answers', async () => {
    const fp = (expression) => ({ language: 'text/fhirpath', expression });
    const byAnswer = (yes, no) => ({ extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/cqf-expression',
      valueExpression: fp(`iif(%resource.repeat(item).where(linkId = 'pregnant').answer.value = true, '${yes}', '${no}')`) }] });
    // All in one top-level group (one page): a top-level group is a page, not a fieldset.
    const questionnaire = { resourceType: 'Questionnaire', id: 'parts', status: 'active', item: [{ linkId: 'page', type: 'group', text: 'About you', item: [
      { linkId: 'pregnant', type: 'boolean', text: 'Are you pregnant?' },
      { linkId: 'note', type: 'display', text: 'About you', _text: byAnswer('About you and your pregnancy', 'About you') },
      { linkId: 'g', type: 'group', text: 'Your health', _text: byAnswer('Your health in pregnancy', 'Your health'), item: [
        { linkId: 'weeks', type: 'integer', text: 'Weeks', required: true },
        { linkId: 'smoke', type: 'boolean', text: 'Do you smoke?', item: [
          { linkId: 'perday', type: 'integer', text: 'How many a day?', enableWhen: [{ question: 'smoke', operator: '=', answerBoolean: true }] }] }] }] }] };
    const { page, problems, context } = await portalPage('host.html');
    const out = await page.evaluate(async (questionnaire) => {
      const { mount } = await import('./node_modules/@intake-engine/intake/index.js');
      const el = document.createElement('div');
      document.querySelector('main').append(el);
      const errors = [];
      const h = await mount(el, { questionnaire, chart: { resourceType: 'Patient', id: 'p' }, storage: false, onError: (e) => errors.push(e.message) });
      const tick = () => new Promise((r) => setTimeout(r, 60));
      const item = (linkId) => el.querySelector(`[data-linkid="${linkId}"]`);
      const shown = (linkId) => { const x = item(linkId); return !!x && !x.hidden && !x.closest('[hidden]'); };
      const yes = (linkId) => [...item(linkId).querySelectorAll('input')].find((i) => [...i.labels].at(-1)?.textContent === 'Yes').click();
      const type = (input, value) => { input.value = value; input.dispatchEvent(new Event('change', { bubbles: true })); };
      const state = () => ({
        note: item('note').textContent.trim(),
        legend: item('g').querySelector(':scope > legend').textContent.trim(),
        weeksClass: item('weeks').className,
        weeksError: item('weeks').querySelector('.ik-errors').textContent.trim(),
        perday: shown('perday'),
        perdayUnderSmoke: !!item('smoke').querySelector('.ik-followups [data-linkid="perday"]'),
      });
      const out = { before: state() };
      yes('pregnant');
      type(item('weeks').querySelector('input'), 'ten');
      await tick();
      out.typedWrong = state();
      type(item('weeks').querySelector('input'), '10');
      yes('smoke');
      await tick();
      out.after = state();
      out.groupInside = [...item('g').children].map((c) => c.tagName.toLowerCase() + (c.dataset.linkid ? `[${c.dataset.linkid}]` : ''));
      h.unmount();
      return { ...out, errors };
    }, questionnaire);
    assert.deepEqual(out.before, { note: 'About you', legend: 'Your health', weeksClass: 'ik-q', weeksError: '', perday: false, perdayUnderSmoke: false }, JSON.stringify(out));
    assert.equal(out.typedWrong.note, 'About you and your pregnancy', JSON.stringify(out));
    assert.equal(out.typedWrong.legend, 'Your health in pregnancy');
    assert.equal(out.typedWrong.weeksClass, 'ik-q ik-invalid');
    assert.notEqual(out.typedWrong.weeksError, '');
    assert.deepEqual({ ...out.after, note: undefined, legend: undefined }, { note: undefined, legend: undefined, weeksClass: 'ik-q', weeksError: '', perday: true, perdayUnderSmoke: true });
    // The legend first, then the group's items in order, inside the group's own fieldset.
    assert.deepEqual(out.groupInside, ['legend', 'div[weeks]', 'fieldset[smoke]']);
    assert.deepEqual(out.errors, []);
    assert.deepEqual(problems, []);
    await context.close();
  });

  it('a reason on show at mount is written with its question, once, and follows the answers', async () => {
    // "perday" shows because of a saved answer: its "why we ask" is in the question's HTML
    // (not added after it), and the effect that keeps it neither adds a second nor loses it.
    const questionnaire = { resourceType: 'Questionnaire', id: 'why', status: 'active', item: [
      { linkId: 'smoke', type: 'boolean', text: 'Do you smoke?' },
      { linkId: 'perday', type: 'integer', text: 'How many a day?', enableWhen: [{ question: 'smoke', operator: '=', answerBoolean: true }] }] };
    const saved = { format: 'intake-answers/1', visit_type: 'why', patient: 'Patient/p', session: 'why-test', page: 0, answers: { smoke: true } };
    const { page, problems, context } = await portalPage('host.html');
    const out = await page.evaluate(async ({ questionnaire, saved }) => {
      const { mount } = await import('./node_modules/@intake-engine/intake/index.js');
      const el = document.createElement('div');
      document.querySelector('main').append(el);
      const errors = [];
      const storage = { getItem: () => JSON.stringify(saved), setItem() {}, removeItem() {} };
      const h = await mount(el, { questionnaire, chart: { resourceType: 'Patient', id: 'p' }, storage, onError: (e) => errors.push(e.message) });
      const tick = () => new Promise((r) => setTimeout(r, 60));
      const item = (linkId) => el.querySelector(`[data-linkid="${linkId}"]`);
      const answer = (label) => [...item('smoke').querySelectorAll('input')].find((i) => [...i.labels].at(-1)?.textContent === label).click();
      const state = () => {
        const q = item('perday');
        const whys = q ? [...q.querySelectorAll('.ik-why')] : [];
        return { shown: !!q && !q.closest('[hidden]'), whys: whys.map((w) => w.textContent),
          described: whys.length === 1 && (q.querySelector('input').getAttribute('aria-describedby') || '').split(' ').includes(whys[0].id) };
      };
      const out = { mounted: state() };
      answer('No');
      await tick();
      out.no = state();
      answer('Yes');
      await tick();
      out.yes = state();
      h.unmount();
      return { ...out, errors };
    }, { questionnaire, saved });
    const why = ['Why we ask: You answered “Yes” to “Do you smoke?”.'];
    assert.deepEqual(out.mounted, { shown: true, whys: why, described: true }, JSON.stringify(out));
    assert.equal(out.no.shown, false, JSON.stringify(out));
    assert.deepEqual(out.yes, { shown: true, whys: why, described: true }, JSON.stringify(out));
    assert.deepEqual(out.errors, []);
    assert.deepEqual(problems, []);
    await context.close();
  });

  it('a long page is laid out in chunks that follow what shows: a chunk with nothing showing takes no room', async () => {
    // 122 questions on one page (a long page: web/src/chunks.rs): a gate, 120 questions it
    // shows, and one always there. Chunks of about 20 questions: [gate, q1-q19], [q20-q39], ...,
    // [q100-q119], [q120, end].
    const questionnaire = gatedForm('long');
    const { page, problems, context } = await portalPage('host.html');
    await page.evaluate(async ({ questionnaire }) => {
      const { mount } = await import('./node_modules/@intake-engine/intake/index.js');
      const el = document.createElement('div');
      el.id = 'long';
      document.querySelector('main').append(el);
      window.longErrors = [];
      window.longForm = await mount(el, { questionnaire, chart: { resourceType: 'Patient', id: 'p' }, storage: false, onError: (e) => window.longErrors.push(e.message) });
    }, { questionnaire });
    // The chunks as the page has them, and how far the last question is below the gate (the
    // room the page takes).
    const state = () => page.evaluate(() => {
      const q = (linkId) => document.querySelector(`#long [data-linkid="${linkId}"]`);
      return {
        chunks: [...document.querySelectorAll('#long .ik-page > .ik-chunk')].map((c) => `${c.hidden ? 'hidden' : 'shown'} ${c.style.getPropertyValue('--ik-n')}`),
        gap: Math.round(q('end').getBoundingClientRect().top - q('gate').getBoundingClientRect().bottom),
        q60: q('q60') ? { inChunk: q('q60').parentElement.classList.contains('ik-chunk'), hidden: !!q('q60').closest('[hidden]') } : null,
      };
    });
    const out = { mounted: await state() };
    for (const label of ['Yes', 'No']) {
      await page.locator('#long [data-linkid="gate"] label', { hasText: label }).click();
      await page.waitForTimeout(60);
      out[label] = await state();
    }
    out.errors = await page.evaluate(() => { window.longForm.unmount(); return window.longErrors; });
    const msg = JSON.stringify(out);
    assert.deepEqual(out.mounted.chunks, ['shown 1', ...Array(5).fill('hidden 0'), 'shown 1'], msg);
    assert.ok(out.mounted.gap < 400, msg);
    assert.equal(out.mounted.q60, null, msg);
    assert.deepEqual(out.Yes.chunks, [...Array(6).fill('shown 20'), 'shown 2'], msg);
    assert.ok(out.Yes.gap > 3000, msg);
    assert.deepEqual(out.Yes.q60, { inChunk: true, hidden: false }, msg);
    assert.deepEqual(out.No.chunks, out.mounted.chunks, msg);
    assert.ok(out.No.gap < 400, msg);
    assert.deepEqual(out.No.q60, { inChunk: true, hidden: true }, msg);
    assert.deepEqual(out.errors, []);
    assert.deepEqual(problems, []);
    await context.close();
  });
});

describe('items one answer shows for the first time (web/src/first_show.rs)', () => {
  it('are built 40 questions with the answer and 40 after each paint, in document order; hidden again before their turn, they wait for the next answer that shows them', async () => {
    const questionnaire = gatedForm('first-show');
    const { page, problems, context } = await portalPage('host.html');
    const out = await page.evaluate(async ({ questionnaire }) => {
      const { mount } = await import('./node_modules/@intake-engine/intake/index.js');
      const errors = [];
      // A form of its own, its gate's answers, and which of q1-q120 are built and shown.
      const form = async () => {
        const el = document.createElement('div');
        document.querySelector('main').append(el);
        const handle = await mount(el, { questionnaire, chart: { resourceType: 'Patient', id: 'p' }, storage: false, onError: (e) => errors.push(e.message) });
        const click = (label) => () => [...el.querySelectorAll('[data-linkid="gate"] label')].find((l) => l.textContent.trim() === label).click();
        const built = () => {
          const qs = [...el.querySelectorAll('[data-linkid^="q"]')];
          return { n: qs.length, last: qs.at(-1)?.dataset.linkid ?? null, shown: qs.filter((q) => !q.closest('[hidden]')).length };
        };
        return { handle, yes: click('Yes'), no: click('No'), built };
      };
      // The answer's own task (its effects run in microtasks after it), then one task more:
      // before the next frame. And after the next paint.
      const settle = () => new Promise((r) => setTimeout(r, 0));
      const afterPaint = () => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
      // Each step: its actions in turn, then what is built.
      const steps = async (f, list) => {
        const out = {};
        for (const [name, ...actions] of list) {
          for (const act of actions) await act();
          out[name] = f.built();
        }
        f.handle.unmount();
        return out;
      };
      const a = await form();
      const one = await steps(a, [['mounted'], ['yes', a.yes, settle], ['frame1', afterPaint], ['frame2', afterPaint], ['frame3', afterPaint],
        ['no', a.no, settle], ['yesAgain', a.yes, settle]]);
      // Hidden again before the rest's turn.
      const b = await form();
      const two = await steps(b, [['yesNo', b.yes, settle, b.no, settle], ['yesNoLater', afterPaint, afterPaint],
        ['yesNoYes', b.yes, settle], ['yesNoYesLater', afterPaint, afterPaint]]);
      return { steps: { ...one, ...two }, errors };
    }, { questionnaire });
    const msg = JSON.stringify(out);
    const s = out.steps;
    assert.deepEqual(s.mounted, { n: 0, last: null, shown: 0 }, msg);
    // 40 questions with the answer, the first 40.
    assert.deepEqual(s.yes, { n: 40, last: 'q40', shown: 40 }, msg);
    assert.deepEqual(s.frame1, { n: 80, last: 'q80', shown: 80 }, msg);
    assert.deepEqual(s.frame2, { n: 120, last: 'q120', shown: 120 }, msg);
    assert.deepEqual(s.frame3, s.frame2, msg);
    // Built once: hidden and shown again on the same elements, at once.
    assert.deepEqual(s.no, { n: 120, last: 'q120', shown: 0 }, msg);
    assert.deepEqual(s.yesAgain, { n: 120, last: 'q120', shown: 120 }, msg);
    // Hidden again before their turn: not built meanwhile; built when they show again.
    assert.deepEqual(s.yesNo, { n: 40, last: 'q40', shown: 0 }, msg);
    assert.deepEqual(s.yesNoLater, s.yesNo, msg);
    assert.deepEqual(s.yesNoYes, { n: 80, last: 'q80', shown: 80 }, msg);
    assert.deepEqual(s.yesNoYesLater, { n: 120, last: 'q120', shown: 120 }, msg);
    assert.deepEqual(out.errors, []);
    assert.deepEqual(problems, []);
    await context.close();
  });
});

/**
 * A long page whose questions are in large groups, as MBS 715 on one page (the page is one
 * group, its questions in one group of 480): the gate (q-less), `big` (q1-q300), `late` (s1-s50,
 * shown by the gate) and `after` (m1-m100, m100 required).
 */
function largeGroups() {
  const questions = (n, prefix, text) => Array.from({ length: n }, (_, i) => ({ linkId: `${prefix}${i + 1}`, type: 'integer', text: `${text} ${i + 1}` }));
  return { resourceType: 'Questionnaire', id: 'long-group', status: 'active',
    item: [{ linkId: 'all', type: 'group', text: 'All questions', item: [
      { linkId: 'gate', type: 'boolean', text: 'Any symptoms?' },
      { linkId: 'big', type: 'group', text: 'Symptoms', item: questions(300, 'q', 'Question') },
      { linkId: 'late', type: 'group', text: 'Only with symptoms', enableWhen: [{ question: 'gate', operator: '=', answerBoolean: true }],
        item: questions(50, 's', 'Detail').map((q) => ({ ...q, type: 'string' })) },
      { linkId: 'after', type: 'group', text: 'More', item: questions(100, 'm', 'More').map((q, i) => ({ ...q, required: i === 99 })) },
    ] }] };
}

describe('a long page (web/src/chunks.rs)', () => {
  it('is built a screen at a time: 40 questions with the mount, then 100 a task after the first paint, the chunks waiting busy; the engine holds every answer from the start, and a link to a question not built yet fills the page and focuses it', async () => {
    const n = 300;
    const questionnaire = { resourceType: 'Questionnaire', id: 'long-page', status: 'active',
      item: Array.from({ length: n }, (_, i) => ({ linkId: `q${i + 1}`, type: 'integer', text: `Question ${i + 1}`, required: i === n - 1 })) };
    // Every answer but the last (required) saved, as a patient coming back finds them.
    const saved = { format: 'intake-answers/1', visit_type: 'long-page', patient: 'Patient/p', session: 'long', page: 0,
      answers: Object.fromEntries(Array.from({ length: n - 1 }, (_, i) => [`q${i + 1}`, i + 1])) };
    const { page, problems, context } = await portalPage('host.html');
    const out = await page.evaluate(async ({ questionnaire, saved }) => {
      const { mount } = await import('./node_modules/@intake-engine/intake/index.js');
      const errors = [];
      const afterPaint = () => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
      const form = async () => {
        const el = document.createElement('div');
        document.querySelector('main').append(el);
        const storage = { getItem: () => JSON.stringify(saved), setItem() {}, removeItem() {} };
        const handle = await mount(el, { questionnaire, chart: { resourceType: 'Patient', id: 'p' }, storage, onError: (e) => errors.push(e.message) });
        const state = () => ({
          built: el.querySelectorAll('[data-linkid^="q"]').length,
          busy: el.querySelectorAll('.ik-chunk[aria-busy]').length,
          answered: handle.getResponse().item?.length ?? 0,
        });
        return { el, handle, state };
      };
      const a = await form();
      // Each slice takes its chunks' aria-busy off in one task: count the tasks that did.
      let slices = 0;
      const mo = new MutationObserver((records) => { if (records.some((r) => r.attributeName === 'aria-busy')) slices++; });
      mo.observe(a.el, { subtree: true, attributes: true, attributeFilter: ['aria-busy'] });
      const mounted = a.state();
      let paints = 0;
      while (a.el.querySelector('.ik-chunk[aria-busy]') && paints < 60) {
        await afterPaint();
        paints++;
      }
      await afterPaint();
      mo.disconnect();
      const steps = { mounted, filled: a.state(), slices, paints: paints <= 10 };
      const q150 = a.el.querySelector('[data-linkid="q150"] input')?.value ?? null;
      a.handle.unmount();
      // Next before the page has filled: the summary's link to q300 (not built yet) focuses it.
      const b = await form();
      b.el.querySelector('.ik-nav .ik-primary').click();
      for (let i = 0; i < 5 && !b.el.querySelector('.ik-summary a'); i++) await Promise.resolve();
      const link = b.el.querySelector('.ik-summary a');
      const before = { link: link?.textContent ?? null, q300Built: !!b.el.querySelector('[data-linkid="q300"]') };
      link?.click();
      await afterPaint();
      await afterPaint();
      const focused = document.activeElement?.closest('[data-linkid]')?.dataset.linkid ?? null;
      const after = { ...b.state(), focused };
      b.handle.unmount();
      return { steps, q150, before, after, errors };
    }, { questionnaire, saved });
    const msg = JSON.stringify(out);
    const s = out.steps;
    // 15 chunks of 20 questions: 2 built with the page, 13 waiting; then filled after the
    // first paint, 100 questions a task: 5 chunks, 5, then the last 3.
    assert.deepEqual(s.mounted, { built: 40, busy: 13, answered: 299 }, msg);
    assert.deepEqual(s.filled, { built: 300, busy: 0, answered: 299 }, msg);
    assert.equal(s.slices, 3, msg);
    assert.equal(s.paints, true, msg);
    // Built late, with the answer it had all along.
    assert.equal(out.q150, '150', msg);
    assert.equal(out.before.q300Built, false, msg);
    assert.match(out.before.link ?? '', /./, msg);
    assert.deepEqual(out.after, { built: 300, busy: 0, answered: 299, focused: 'q300' }, msg);
    assert.deepEqual(out.errors, []);
    assert.deepEqual(problems, []);
    await context.close();
  });

  it('chunks a large group inside its own fieldset: 40 questions with the mount, the rest filled after the first paint in page order (a large group past them split when its chunk fills); a link to a question two fills deep focuses it', async () => {
    const questionnaire = largeGroups();
    const { page, problems, context } = await portalPage('host.html');
    const out = await page.evaluate(async ({ questionnaire }) => {
      const { mount } = await import('./node_modules/@intake-engine/intake/index.js');
      const errors = [];
      const afterPaint = () => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
      const form = async () => {
        const el = document.createElement('div');
        document.querySelector('main').append(el);
        const handle = await mount(el, { questionnaire, chart: { resourceType: 'Patient', id: 'p' }, storage: false, onError: (e) => errors.push(e.message) });
        return { el, handle };
      };
      const { el, handle } = await form();
      const group = (linkId) => el.querySelector(`[data-linkid="${linkId}"]`);
      const state = () => ({
        built: el.querySelectorAll('[data-linkid^="q"]').length,
        more: el.querySelectorAll('[data-linkid^="m"]').length,
        busy: el.querySelectorAll('.ik-chunk[aria-busy]').length,
        // Every chunk of a large group is inside its fieldset, after its legend.
        inBig: group('big')?.querySelectorAll(':scope > .ik-chunk').length ?? 0,
        inAfter: group('after')?.querySelectorAll(':scope > .ik-chunk').length ?? 0,
        legend: group('big')?.querySelector(':scope > legend')?.textContent ?? null,
      });
      const mounted = state();
      // The order chunks fill in: each chunk as it loses aria-busy (named once all are built by
      // the first item in it).
      const order = [];
      const mo = new MutationObserver((records) => {
        for (const r of records) if (r.attributeName === 'aria-busy' && !order.includes(r.target)) order.push(r.target);
      });
      mo.observe(el, { subtree: true, attributes: true, attributeFilter: ['aria-busy'] });
      for (let i = 0; i < 60 && el.querySelector('.ik-chunk[aria-busy]'); i++) await afterPaint();
      mo.disconnect();
      const filled = state();
      const filledOrder = order.map((c) => c.querySelector('[data-linkid]')?.dataset.linkid ?? '-');
      // The group shown by an answer (50 questions, built when it first shows) shows and hides.
      const yes = [...el.querySelectorAll('[data-linkid="gate"] label')].find((l) => l.textContent.trim() === 'Yes');
      yes.click();
      for (let i = 0; i < 5; i++) await afterPaint();
      const late = () => el.querySelector('[data-linkid="late"]');
      const shown = { late: !!late() && !late().closest('[hidden]'), details: el.querySelectorAll('[data-linkid^="s"]').length };
      const q300 = el.querySelector('[data-linkid="q300"] input');
      q300.value = '7';
      q300.dispatchEvent(new Event('change', { bubbles: true }));
      const answer = handle.getResponse().item?.[0]?.item?.find((i) => i.linkId === 'big')?.item?.find((i) => i.linkId === 'q300')?.answer?.[0] ?? null;
      handle.unmount();
      // Next at once: the summary's link to m100, required, two fills away (its group's chunk,
      // then the group's own chunks), focuses its field.
      const b = await form();
      b.el.querySelector('.ik-nav .ik-primary').click();
      for (let i = 0; i < 5 && !b.el.querySelector('.ik-summary a'); i++) await Promise.resolve();
      const before = { link: !!b.el.querySelector('.ik-summary a'), m100: !!b.el.querySelector('[data-linkid="m100"]') };
      b.el.querySelector('.ik-summary a')?.click();
      for (let i = 0; i < 6; i++) await afterPaint();
      const focused = document.activeElement?.closest('[data-linkid]')?.dataset.linkid ?? null;
      b.handle.unmount();
      return { mounted, filled, order: filledOrder, shown, answer, before, focused, errors };
    }, { questionnaire });
    const msg = JSON.stringify(out);
    // Built with the page: its chunk holding the gate (1 question), the group's element and its
    // first two chunks (20 + 20). Waiting: the group's 13 other chunks, the page's chunk after
    // the group (the hidden group, 50 questions: not split, it does not show), and the last
    // group's chunk (100 questions: split when it fills, into 5 chunks of its own).
    assert.deepEqual(out.mounted, { built: 40, more: 0, busy: 15, inBig: 15, inAfter: 0, legend: 'Symptoms' }, msg);
    assert.deepEqual(out.filled, { built: 300, more: 100, busy: 0, inBig: 15, inAfter: 5, legend: 'Symptoms' }, msg);
    // In page order: the large group's chunks from q41, the hidden group's chunk (nothing built:
    // '-'), the last group's chunk (the group's element), then the chunks inside it.
    assert.deepEqual(out.order, ['q41', 'q61', 'q81', 'q101', 'q121', 'q141', 'q161', 'q181', 'q201', 'q221', 'q241', 'q261', 'q281', '-', 'after', 'm1', 'm21', 'm41', 'm61', 'm81'], msg);
    assert.deepEqual(out.shown, { late: true, details: 50 }, msg);
    assert.deepEqual(out.answer, { valueInteger: 7 }, msg);
    assert.deepEqual(out.before, { link: true, m100: false }, msg);
    assert.equal(out.focused, 'm100', msg);
    assert.deepEqual(out.errors, []);
    assert.deepEqual(problems, []);
    await context.close();
  });

  it('fills its chunks (inside large groups too) with nothing the portal\'s CSP refuses, and passes axe once filled', async () => {
    const { page, problems, context } = await portalPage('host.html');
    const waiting = await page.evaluate(async ({ questionnaire }) => {
      const { mount } = await import('./node_modules/@intake-engine/intake/index.js');
      const el = document.createElement('div');
      document.querySelector('main').append(el);
      window.__longForm = await mount(el, { questionnaire, chart: { resourceType: 'Patient', id: 'p' }, storage: false });
      return el.querySelectorAll('.ik-chunk[aria-busy]').length;
    }, { questionnaire: largeGroups() });
    await page.waitForFunction(() => !document.querySelector('.ik-chunk[aria-busy]'));
    // What the page logged before axe ran (each chunk's height estimate is set through its
    // style object, never a style attribute: this portal's strict CSP refuses those); axe-core
    // itself applies an inline style while it runs, which the CSP (rightly) refuses.
    const ours = [...problems];
    const violations = await axe(page);
    assert.equal(waiting, 15);
    assert.deepEqual(ours, []);
    assert.deepEqual(violations, []);
    await context.close();
  });
});

describe('four builds: each form loads only the one it needs', () => {
  it('a form loads the build with what it carries (rules, FHIRPath, both or neither), and never runs without its rules or its expressions', async () => {
    const { page, problems, requests, context } = await portalPage('blank.html');
    const out = await page.evaluate(async () => {
      const pkg = await import('./node_modules/@intake-engine/intake/index.js');
      const get = async (p) => (await fetch(p)).json();
      const [vt, chart] = await Promise.all([get('data/hypertension-follow-up.json'), get('data/maria-hernandez.json')]);
      const now = '2026-11-20T09:00:00-05:00';
      const box = () => { const d = document.createElement('div'); document.querySelector('main').append(d); return d; };
      const wasm = () => performance.getEntriesByType('resource').map((e) => e.name.split('/').pop()).filter((n) => n.endsWith('.wasm'));
      const settle = () => new Promise((r) => setTimeout(r, 100));
      const type = (input, value) => {
        input.value = value;
        input.dispatchEvent(new Event('input', { bubbles: true }));
        input.dispatchEvent(new Event('change', { bubbles: true }));
      };
      const out = {};
      // A plain form (enableWhen only): the basic build.
      const plain = { resourceType: 'Questionnaire', id: 'plain', status: 'active', item: [
        { linkId: 'smoke', type: 'boolean', text: 'Do you smoke?' },
        { linkId: 'packs', type: 'integer', text: 'Packs a day', enableWhen: [{ question: 'smoke', operator: '=', answerBoolean: true }] }] };
      const plainEl = box();
      const basic = await pkg.mount(plainEl, { questionnaire: plain, chart, now, storage: false });
      out.afterBasic = wasm();
      plainEl.querySelector('input[type=radio]').click();
      await settle();
      out.packsShown = [...plainEl.querySelectorAll('.ik-q')].some((e) => !e.closest('[hidden]') && e.textContent.includes('Packs a day'));
      // An SDC form from another tool: FHIRPath branching, no rule scripts.
      const q = { resourceType: 'Questionnaire', id: 'sdc', status: 'active', item: [
        { linkId: 'age', type: 'integer', text: 'Your age' },
        { linkId: 'screening', type: 'boolean', text: 'Have you had a bowel screening?',
          extension: [{ url: 'http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-enableWhenExpression',
            valueExpression: { language: 'text/fhirpath', expression: "%resource.item.where(linkId='age').answer.value >= 50" } }] }] };
      const sdcEl = box();
      const sdc = await pkg.mount(sdcEl, { questionnaire: q, chart, now, storage: false });
      out.afterSdc = wasm();
      type(sdcEl.querySelector('input[inputmode=numeric], input[type=number]'), '61');
      await settle();
      out.screeningShown = [...sdcEl.querySelectorAll('.ik-q')].some((e) => !e.closest('[hidden]') && e.textContent.includes('bowel screening'));
      out.sdcAnswer = sdc.getResponse().item?.find((i) => i.linkId === 'age')?.answer?.[0]?.valueInteger;
      // A visit type with rules and no expressions: the rules build.
      const rulesEl = box();
      const rules = await pkg.mount(rulesEl, { visitType: vt, chart, now, storage: false, locale: 'en' });
      out.afterRules = wasm();
      out.rulesTitle = rulesEl.querySelector('h2, h3')?.textContent;
      // The same visit type with a calculated item: rules and FHIRPath, the full build.
      const calc = { linkId: 'calc-check', type: 'integer', text: 'Two and two', readOnly: true,
        extension: [{ url: 'http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-calculatedExpression',
          valueExpression: { language: 'text/fhirpath', expression: '2 + 2' } }] };
      const both = { ...vt, questionnaire: { ...vt.questionnaire, item: [...vt.questionnaire.item, calc] } };
      const fullEl = box();
      const full = await pkg.mount(fullEl, { visitType: both, chart, now, storage: false, locale: 'en' });
      out.afterFull = wasm();
      out.calculated = JSON.stringify(full.getResponse()).includes('"valueInteger":4');
      // Hosts that force a build without a part the form needs: refused, never run without it.
      const forced = async (options) => {
        const el = box();
        const errors = [];
        let result;
        try {
          await pkg.mount(el, { chart, now, storage: false, onError: (e) => errors.push(e.message), ...options });
          result = 'mounted';
        } catch (e) { result = e.message; }
        return { result, errors, text: el.textContent };
      };
      out.forcedSdc = await forced({ visitType: vt, build: 'sdc' });
      out.forcedRules = await forced({ questionnaire: q, build: 'rules' });
      out.forcedBasic = await forced({ visitType: both, build: 'basic' });
      const variable = { url: 'http://hl7.org/fhir/StructureDefinition/variable', valueExpression: { name: 'v', language: 'text/fhirpath', expression: '1' } };
      const toggle = { linkId: 'c', type: 'choice', extension: [{ url: 'http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-answerOptionsToggleExpression',
        extension: [{ url: 'expression', valueExpression: { language: 'text/fhirpath', expression: 'true' } }] }] };
      const sourceQueries = { url: 'http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-sourceQueries', valueReference: { reference: '#q' } };
      out.choices = {
        plain: pkg.buildFor({ questionnaire: plain }),
        plainText: pkg.buildFor({ questionnaire: JSON.stringify(plain) }),
        expression: pkg.buildFor({ questionnaire: q }),
        expressionText: pkg.buildFor({ questionnaire: JSON.stringify(q) }),
        variable: pkg.buildFor({ questionnaire: { ...plain, extension: [variable] } }),
        nested: pkg.buildFor({ questionnaire: { ...plain, item: [toggle] } }),
        sourceQueries: pkg.buildFor({ questionnaire: { ...plain, extension: [sourceQueries] } }),
        noQuestionnaire: pkg.buildFor({}),
        visitType: pkg.buildFor({ visitType: vt }),
        visitTypeExpression: pkg.buildFor({ visitType: both }),
        rulesOption: pkg.buildFor({ questionnaire: plain, rules: { 'r.rhai': 'ask("packs", "why");' } }),
        rulesOptionExpression: pkg.buildFor({ questionnaire: q, rules: { 'r.rhai': 'ask("age", "why");' } }),
        manifestText: pkg.buildFor({ questionnaire: q, manifest: JSON.stringify({ rules: ['r.rhai'] }) }),
        manifestNoRules: pkg.buildFor({ questionnaire: q, manifest: { id: 'x' } }),
        manifestBroken: pkg.buildFor({ questionnaire: plain, manifest: '{ not json' }),
        forced: pkg.buildFor({ visitType: vt, build: 'full' }),
      };
      try { pkg.buildFor({ build: 'small' }); } catch (e) { out.badBuild = `${e.name}: ${e.message}`; }
      for (const f of [basic, sdc, rules, full]) f.unmount();
      return out;
    });
    assert.deepEqual(out.afterBasic, ['intake_basic_bg.wasm'], 'a plain form fetches only the basic build');
    assert.equal(out.packsShown, true, 'enableWhen works in the basic build');
    assert.deepEqual(out.afterSdc, ['intake_basic_bg.wasm', 'intake_sdc_bg.wasm'], 'a form with expressions fetched the SDC build');
    assert.equal(out.screeningShown, true, 'FHIRPath branching works in the SDC build');
    assert.equal(out.sdcAnswer, 61);
    assert.deepEqual(out.afterRules, ['intake_basic_bg.wasm', 'intake_sdc_bg.wasm', 'intake_rules_bg.wasm'], 'the visit type with rules fetched the rules build');
    assert.ok(out.rulesTitle, 'the visit type rendered');
    assert.deepEqual(out.afterFull.slice(3), ['intake_web_bg.wasm'], 'rules and expressions together fetched the full build');
    assert.equal(out.calculated, true, 'the calculated item was computed on the full build');
    assert.match(out.forcedSdc.result, /no rules engine/);
    assert.ok(out.forcedSdc.errors.some((e) => /no rules engine/.test(e)), JSON.stringify(out.forcedSdc.errors));
    for (const f of [out.forcedRules, out.forcedBasic]) {
      assert.match(f.result, /FHIRPath expression, and this build of the engine has no FHIRPath/);
      assert.ok(f.errors.some((e) => /at Questionnaire\.item\[\d+\]\.extension\[0\]: the form carries a FHIRPath expression/.test(e)), JSON.stringify(f.errors));
    }
    for (const f of [out.forcedSdc, out.forcedRules, out.forcedBasic]) {
      assert.doesNotMatch(f.text, /rules engine|rhai|FHIRPath|build|\.rhai|Questionnaire\.item/, 'no developer text for the patient');
      assert.ok(f.text.trim().length > 0, 'the patient is told something');
    }
    assert.deepEqual(out.choices, {
      plain: 'basic', plainText: 'basic', expression: 'sdc', expressionText: 'sdc', variable: 'sdc', nested: 'sdc', sourceQueries: 'sdc', noQuestionnaire: 'sdc',
      visitType: 'rules', visitTypeExpression: 'full', rulesOption: 'rules', rulesOptionExpression: 'full',
      manifestText: 'full', manifestNoRules: 'sdc', manifestBroken: 'rules', forced: 'full',
    });
    assert.match(out.badBuild, /^TypeError: options\.build must be 'full', 'sdc', 'rules' or 'basic'/);
    assertOnlyOwnRequests(requests);
    assert.deepEqual(problems.filter((p) => !/no rules engine|has no FHIRPath/.test(p)), []);
    await context.close();
  });

  it('a page that loaded a larger build runs smaller forms on it; without a smaller build\'s files, the full build runs the form and onError says so', async () => {
    const run = async (block) => {
      const { page, problems, requests, context } = await portalPage('blank.html');
      if (block) await page.route(/intake_(basic|rules|sdc)/, (r) => r.fulfill({ status: 404, body: 'not here' }));
      const out = await page.evaluate(async (block) => {
        const pkg = await import('./node_modules/@intake-engine/intake/index.js');
        if (!block) await pkg.init(); // the full build, ahead of any form
        const q = { resourceType: 'Questionnaire', id: 'bare', status: 'active', item: [{ linkId: 'a', type: 'boolean', text: 'Are you well?' }] };
        const el = document.createElement('div');
        document.querySelector('main').append(el);
        const errors = [];
        const form = await pkg.mount(el, { questionnaire: q, chart: { resourceType: 'Patient', id: 'p' }, storage: false, onError: (e) => errors.push(e.message) });
        el.querySelector('input[type=radio]').click();
        await new Promise((r) => setTimeout(r, 50));
        const wasm = performance.getEntriesByType('resource').map((e) => e.name.split('/').pop()).filter((n) => n.endsWith('.wasm'));
        const answered = form.getResponse().item?.[0]?.answer?.[0]?.valueBoolean;
        form.unmount();
        return { wasm, errors, answered };
      }, block);
      await context.close();
      return { ...out, requests, problems };
    };
    const warm = await run(false);
    assert.deepEqual(warm.wasm, ['intake_web_bg.wasm'], 'no second module fetched');
    assert.deepEqual(warm.errors, []);
    assert.equal(warm.answered, true);
    const missing = await run(true);
    assert.deepEqual(missing.wasm.filter((n) => n === 'intake_web_bg.wasm'), ['intake_web_bg.wasm']);
    assert.equal(missing.answered, true, 'the form runs on the full build');
    assert.ok(missing.errors.some((e) => /basic build could not be loaded .*runs on the full build/.test(e)), JSON.stringify(missing.errors));
  });
});

describe('the warm-up after mount (web/src/warm.rs)', () => {
  it('touches nothing of the host: no callback, no storage, no element in the page, no focus', async () => {
    const { page, problems, context } = await portalPage('blank.html');
    const out = await page.evaluate(async () => {
      const pkg = await import('./node_modules/@intake-engine/intake/index.js');
      const calls = [];
      const storage = { getItem: (k) => { calls.push(`get ${k}`); return null; }, setItem: (k) => calls.push(`set ${k}`), removeItem: (k) => calls.push(`remove ${k}`) };
      const q = { resourceType: 'Questionnaire', id: 'bare', status: 'active', item: [
        { linkId: 'smoke', type: 'boolean', text: 'Do you smoke?' },
        { linkId: 'packs', type: 'integer', text: 'Packs a day', enableWhen: [{ question: 'smoke', operator: '=', answerBoolean: true }] }] };
      const host = document.createElement('div');
      document.querySelector('main').append(host);
      const before = document.querySelectorAll('*').length;
      await pkg.mount(host, { questionnaire: q, chart: { resourceType: 'Patient', id: 'p' }, storage, now: '2026-11-20T09:00:00Z',
        onChange: () => calls.push('change'), onError: (e) => calls.push(`error ${e.message}`), onUrgent: () => calls.push('urgent') });
      const mounted = document.querySelectorAll('*').length;
      const callsAtMount = calls.length;
      // The warm-up runs when the page is idle, one step (read, visit type, session, mount,
      // answer) per idle period: wait for six and a timer after them.
      for (let i = 0; i < 6; i++) await new Promise((r) => (window.requestIdleCallback || setTimeout)(r));
      await new Promise((r) => setTimeout(r, 200));
      const after = { elements: document.querySelectorAll('*').length, calls: calls.slice(callsAtMount), focus: document.activeElement?.tagName };
      // The patient's form answers as before.
      host.querySelector('input[type=radio]').click();
      await new Promise((r) => setTimeout(r, 50));
      return { before, mounted, after, shownAfterYes: !host.querySelector('[data-linkid=packs]')?.closest('[hidden]'), calls };
    });
    await context.close();
    assert.deepEqual(problems, []);
    assert.equal(out.after.elements, out.mounted, 'no element added to or left in the page');
    assert.deepEqual(out.after.calls, [], 'no callback or storage call while warming up');
    assert.equal(out.after.focus, 'BODY');
    assert.equal(out.shownAfterYes, true);
    assert.ok(out.calls.includes('change'), 'the form itself still reports its changes');
  });
});

describe('the warm-up after init (pkg/index.js warmUp)', () => {
  it('compiles each build\'s form code in idle time on a throwaway instance, one step per idle period, touching nothing of the host; the first form is still ik1-', async () => {
    const { page, problems, context } = await portalPage('blank.html');
    const out = await page.evaluate(async () => {
      // Every idle callback the page asks for, and when each ran.
      const idle = [];
      const real = window.requestIdleCallback.bind(window);
      window.requestIdleCallback = (f) => { const e = { ran: false }; idle.push(e); return real((d) => { e.ran = true; f(d); }); };
      const pkg = await import('./node_modules/@intake-engine/intake/index.js');
      const errors = [];
      const q = { resourceType: 'Questionnaire', id: 'bare', status: 'active', item: [
        { linkId: 'smoke', type: 'boolean', text: 'Do you smoke?' },
        { linkId: 'packs', type: 'integer', text: 'Packs a day', enableWhen: [{ question: 'smoke', operator: '=', answerBoolean: true }] }] };
      const before = document.querySelectorAll('*').length;
      // Each build warms its own parts (a build without FHIRPath would refuse a warm-up form
      // with expressions): the one the form needs first, then the others.
      const warm = {};
      for (const build of ['basic', 'sdc', 'rules', 'full']) {
        const from = idle.length;
        await pkg.init(build === 'basic' ? { questionnaire: q, onError: (e) => errors.push(e.message) } : { build, onError: (e) => errors.push(e.message) });
        const ranAtInit = idle.slice(from).filter((e) => e.ran).length;
        // Until no step is waiting and none was asked for in the last idle period and timer.
        for (let i = 0; i < 20 && (idle.some((e) => !e.ran) || i < 2); i++) {
          await new Promise((r) => real(r));
          await new Promise((r) => setTimeout(r, 20));
        }
        warm[build] = { ranAtInit, steps: idle.length - from, allRan: idle.every((e) => e.ran) };
      }
      warm.elements = document.querySelectorAll('*').length;
      warm.focus = document.activeElement?.tagName;
      warm.wasm = performance.getEntriesByType('resource').map((e) => e.name.split('/').pop()).filter((n) => n.endsWith('.wasm'));
      const host = document.createElement('div');
      document.querySelector('main').append(host);
      await pkg.mount(host, { questionnaire: q, chart: { resourceType: 'Patient', id: 'p' }, storage: false, now: '2026-11-20T09:00:00Z', onError: (e) => errors.push(e.message) });
      host.querySelector('input[type=radio]').click();
      await new Promise((r) => setTimeout(r, 50));
      return { before, warm, ids: [...host.querySelectorAll('[id]')].map((e) => e.id), shownAfterYes: !host.querySelector('[data-linkid=packs]')?.closest('[hidden]'), errors };
    });
    await context.close();
    assert.deepEqual(problems, []);
    assert.deepEqual(out.errors, [], 'no error from the warm-up or the form');
    assert.deepEqual(out.warm.wasm.sort(), ['intake_basic_bg.wasm', 'intake_rules_bg.wasm', 'intake_sdc_bg.wasm', 'intake_web_bg.wasm']);
    for (const build of ['basic', 'sdc', 'rules', 'full']) {
      const w = out.warm[build];
      assert.equal(w.ranAtInit, 0, `${build}: init resolves before any step runs: the steps wait for idle periods`);
      // Read the warm-up form, make its visit type, start a session, mount it off the page,
      // answer it: five steps, then no more.
      assert.equal(w.steps, 5, `${build}: ${w.steps} steps`);
      assert.ok(w.allRan, build);
    }
    assert.equal(out.warm.elements, out.before, 'no element added to or left in the page');
    assert.equal(out.warm.focus, 'BODY');
    // The warm-up's off-page form takes no number from the page's count of forms.
    assert.ok(out.ids.length > 0 && out.ids.every((id) => id.startsWith('ik1-')), out.ids.join(' '));
    assert.equal(out.shownAfterYes, true);
  });
});

describe('an internal error in one form (fault-injection build)', () => {
  it('never reaches the other forms and sessions; the form restarts from its autosave, then stops calmly', async () => {
    assert.ok(existsSync(join(host, 'fault', 'dist')), 'the fault-injection build is missing: run tests/e2e/fault-build.sh (test.sh does)');
    const { page, problems, context } = await portalPage('host.html');
    const out = await page.evaluate(async () => {
      const { mount, createSession } = await import('./fault/index.js');
      const now = '2026-11-20T09:00:00-05:00';
      const tick = () => new Promise((r) => setTimeout(r, 150));
      const q = (id) => ({ resourceType: 'Questionnaire', id, status: 'active', title: `Form ${id}`, item: [
        { linkId: 'smoker', type: 'boolean', text: 'Do you smoke?' },
        { linkId: 'cough', type: 'boolean', text: 'Do you cough?' },
        { linkId: 'boom', type: 'boolean', text: 'Anything else?' }] });
      const box = () => { const d = document.createElement('div'); document.querySelector('main').append(d); return d; };
      const yes = (el, text) => [...el.querySelectorAll('input[type=radio]')]
        .find((i) => i.labels[0]?.textContent === 'Yes' && i.closest('.ik-q')?.textContent.includes(text));
      const answers = (h) => Object.fromEntries(h.getResponse().item?.map((i) => [i.linkId, i.answer?.[0]?.valueBoolean]) ?? []);
      const chart = { resourceType: 'Patient', id: 'p' };
      const aEl = box(), bEl = box();
      const aErrors = [], bErrors = [];
      // Form A panics when "Anything else?" is answered; B and the session share the page.
      const a = await mount(aEl, { questionnaire: q('a'), chart, now, storage: false, __faultOnAnswer: 'boom', onError: (e) => aErrors.push(e.message) });
      const b = await mount(bEl, { questionnaire: q('b'), chart, now, storage: false, onError: (e) => bErrors.push(e.message) });
      const s = await createSession({ questionnaire: q('c'), chart, now, sessionId: 'beside-the-crash' });
      const out = { aId: a.sessionId };
      yes(aEl, 'Do you smoke?').click();
      yes(bEl, 'Do you smoke?').click();
      await tick();
      yes(aEl, 'Anything else?').click();
      await tick();
      await tick();
      out.first = {
        answers: answers(a), sameId: a.sessionId === out.aId, errors: [...aErrors],
        note: aEl.textContent.includes('the form was started again'), checked: yes(aEl, 'Do you smoke?')?.checked,
      };
      // The neighbours carry on as if nothing happened.
      yes(bEl, 'Do you cough?').click();
      await tick();
      s.answer('cough', true);
      out.neighbours = { b: answers(b), bErrors: [...bErrors], session: s.bundle().resourceType };
      // The restarted form works; a second failure stops it with a calm message.
      yes(aEl, 'Do you cough?').click();
      await tick();
      out.restarted = answers(a);
      yes(aEl, 'Anything else?').click();
      await tick();
      await tick();
      out.second = { text: aEl.textContent, errors: aErrors.slice(out.first.errors.length) };
      try { a.getResponse(); out.second.call = 'answered'; } catch (e) { out.second.call = e.message; }
      a.unmount();
      out.after = { b: answers(b), bundle: s.bundle().type, aEmpty: aEl.textContent === '' };
      b.unmount();
      return out;
    });
    assert.deepEqual(out.first.answers, { smoker: true }, JSON.stringify(out));
    assert.equal(out.first.checked, true, 'the answer before the failure is on the page again');
    assert.equal(out.first.sameId, true, 'the same session (same identifiers) after the restart');
    assert.equal(out.first.note, true, 'the patient is told in one calm sentence');
    assert.ok(out.first.errors.some((e) => /injected fault on answering 'boom'/.test(e) && /started again/.test(e)), JSON.stringify(out.first.errors));
    assert.deepEqual(out.neighbours, { b: { smoker: true, cough: true }, bErrors: [], session: 'Bundle' });
    assert.deepEqual(out.restarted, { smoker: true, cough: true });
    assert.match(out.second.text, /This form stopped working\. Please reload the page/);
    assert.doesNotMatch(out.second.text, /panic|wasm|boom|internal/i, 'no developer text for the patient');
    assert.ok(out.second.errors.some((e) => /failed again/.test(e)), JSON.stringify(out.second.errors));
    assert.match(out.second.call, /not running/);
    assert.deepEqual(out.after, { b: { smoker: true, cough: true }, bundle: 'transaction', aEmpty: true });
    // The page saw the two failures (the trap escapes the click handler) and nothing else.
    const unexpected = problems.filter((p) => !/unreachable|injected fault/.test(p));
    assert.deepEqual(unexpected, []);
    await context.close();
  });
});

describe('questions written as HTML (web/src/html.rs)', () => {
  it('escape what the form says, and keep every control\'s answer both ways (saved answers shown, the patient\'s answers taken)', async () => {
    const { page, problems, context } = await portalPage('blank.html');
    const out = await page.evaluate(async () => {
      const pkg = await import('./node_modules/@intake-engine/intake/index.js');
      const errors = [];
      const changes = [];
      const itemControl = (code) => [{ url: 'http://hl7.org/fhir/StructureDefinition/questionnaire-itemControl',
        valueCodeableConcept: { coding: [{ system: 'http://hl7.org/fhir/questionnaire-item-control', code: code }] } }];
      const q = { resourceType: 'Questionnaire', id: 'html', status: 'active', item: [
        // Hostile text: shown as text, never as markup.
        { linkId: 'hostile', type: 'string', text: '<img src=x onerror="window.pwned=1">Name & "nick"', prefix: '1<b>' },
        { linkId: 'tick', type: 'boolean', text: 'I agree', extension: itemControl('check-box') },
        { linkId: 'drink', type: 'open-choice', text: 'Drink', extension: itemControl('radio-button'),
          answerOption: [{ valueCoding: { code: 'tea', display: 'Tea' } }, { valueCoding: { code: 'coffee', display: 'Coffee <strong>' } }] },
        { linkId: 'notes', type: 'text', text: 'Notes', maxLength: 20 },
        // A text area's content as written keeps a leading newline (the parser drops one).
        { linkId: 'memo', type: 'text', text: 'Memo', initial: [{ valueString: '\nafter a blank line' }] },
        { linkId: 'size', type: 'choice', text: 'Size', extension: itemControl('drop-down'),
          answerOption: ['S', 'M', 'L'].map((c) => ({ valueCoding: { code: c, display: `Size ${c}` } })) },
      ] };
      const saved = { format: 'intake-answers/1', visit_type: 'html', patient: 'Patient/p', session: 's', page: 0,
        // Written into the HTML as the field's value: quotes and markup stay text.
        answers: { size: 'M', notes: 'kept note', hostile: 'Bo "B" <b>&amp;' } };
      const store = { getItem: () => JSON.stringify(saved), setItem() {}, removeItem() {} };
      const host = document.createElement('div');
      document.querySelector('main').append(host);
      const form = await pkg.mount(host, { questionnaire: q, chart: { resourceType: 'Patient', id: 'p' }, storage: store, now: '2026-11-20T09:00:00Z',
        onError: (e) => errors.push(e.message), onChange: (qr) => changes.push(qr) });
      const item = (id) => host.querySelector(`[data-linkid=${id}]`);
      const answers = () => Object.fromEntries(form.getResponse().item.map((i) => [i.linkId, i.answer.map((a) => a.valueCoding?.code ?? a.valueString ?? a.valueBoolean)]));
      const settle = () => new Promise((r) => setTimeout(r, 30));
      const r = {};
      r.hostileLabel = item('hostile').querySelector('label').textContent;
      r.hostileImages = host.querySelectorAll('img').length;
      r.optionLabel = item('drink').querySelectorAll('label')[1].textContent;
      // Saved answers show in the controls written as HTML.
      r.savedSize = item('size').querySelector('select').selectedOptions[0].textContent;
      r.savedNotes = item('notes').querySelector('textarea').value;
      r.savedHostile = item('hostile').querySelector('input').value;
      r.memo = item('memo').querySelector('textarea').value;
      r.memoAnswer = answers().memo;
      r.maxLength = item('notes').querySelector('textarea').getAttribute('maxlength');
      // The tick box: ticked is true, unticked is no answer.
      item('tick').querySelector('input').click();
      await settle();
      r.ticked = answers().tick;
      // An option, then the patient's own words instead.
      item('drink').querySelector('input[type=radio]').click();
      await settle();
      r.tea = answers().drink;
      const other = item('drink').querySelector('.ik-other input');
      other.value = 'Water';
      other.dispatchEvent(new Event('change', { bubbles: true }));
      await settle();
      r.own = answers().drink;
      r.radioCleared = [...item('drink').querySelectorAll('input[type=radio]')].every((i) => !i.checked);
      // Typing in the text area, then leaving it.
      const area = item('notes').querySelector('textarea');
      area.value = 'new note';
      area.dispatchEvent(new Event('input', { bubbles: true }));
      area.dispatchEvent(new Event('change', { bubbles: true }));
      await settle();
      r.notes = answers().notes;
      // A drop-down choice.
      const select = item('size').querySelector('select');
      select.value = '2';
      select.dispatchEvent(new Event('change', { bubbles: true }));
      await settle();
      r.size = answers().size;
      r.pwned = window.pwned ?? null;
      r.changes = changes.length;
      form.unmount();
      return { r, errors };
    });
    await context.close();
    assert.deepEqual(problems, []);
    assert.deepEqual(out.errors, []);
    const r = out.r;
    assert.equal(r.hostileLabel, '1<b> <img src=x onerror="window.pwned=1">Name & "nick"', 'the form\'s text shows as text');
    assert.equal(r.hostileImages, 0);
    assert.equal(r.pwned, null);
    assert.equal(r.optionLabel, 'Coffee <strong>');
    assert.equal(r.savedSize, 'Size M');
    assert.equal(r.savedNotes, 'kept note');
    assert.deepEqual([r.memo], r.memoAnswer, 'the text area shows the answer the form holds');
    assert.equal(r.memo, '\nafter a blank line');
    assert.equal(r.savedHostile, 'Bo "B" <b>&amp;');
    assert.equal(r.maxLength, '20');
    assert.deepEqual(r.ticked, [true]);
    assert.deepEqual(r.tea, ['tea']);
    assert.deepEqual(r.own, ['Water']);
    assert.ok(r.radioCleared, 'a single answer: the own words replace the ticked option');
    assert.deepEqual(r.notes, ['new note']);
    assert.deepEqual(r.size, ['L']);
    assert.ok(r.changes >= 5, `every answer reached onChange (${r.changes})`);
  });
});
