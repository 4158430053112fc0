// Every corpus Questionnaire of the kinds that could not be finished before issue 9 (a choice
// question whose value set is external, or contained with only a `compose`) is completed and
// sent in Chromium with the keyboard only: Tab to each required field, answer it (the first
// option, or words of the right kind), Enter on Next and Send. No host ValueSets are given, so
// external value sets fall back to free text; the figures printed say how many did.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { hostIn, jsonFiles, launch, openPage, ROOT, serve } from './lib.mjs';

const CORPUS = join(ROOT, '..', 'shared', 'corpus', 'questionnaires');
const CHART = { resourceType: 'Patient', id: 'walk', name: [{ family: 'Walker', given: ['Kay'] }], birthDate: '1975-03-02', gender: 'female' };


/** The forms with a choice whose options only a value set gives, and how many such items. */
function formsWithValueSetChoices() {
  const out = [];
  for (const f of jsonFiles(CORPUS)) {
    let q;
    try { q = JSON.parse(readFileSync(f, 'utf8')); } catch { continue; }
    if (q?.resourceType !== 'Questionnaire') continue;
    const contained = new Map();
    for (const c of q.contained ?? []) {
      if (c.resourceType !== 'ValueSet') continue;
      contained.set(`#${c.id}`, c);
      if (c.url) contained.set(c.url, c);
    }
    let items = 0, hits = 0;
    const walk = (list) => {
      for (const it of list ?? []) {
        items++;
        if (it.answerValueSet && !it.answerOption && ['choice', 'open-choice'].includes(it.type)) {
          const c = contained.get(it.answerValueSet);
          if (!c || !c.expansion?.contains?.length) hits++;
        }
        walk(it.item);
      }
    };
    walk(q.item);
    if (hits) out.push({ file: f, name: relative(CORPUS, f), q, items, hits });
  }
  return out;
}

let browser, server;
before(async () => {
  server = await serve();
  browser = await launch();
});
after(async () => {
  await browser?.close();
  server?.stop();
});

/** What a keyboard user types into the focused required field, by what kind of field it is. */
async function answerFocused(page) {
  return page.evaluate(() => {
    const e = document.activeElement;
    const q = e?.closest('.ik-q');
    const required = !!q?.querySelector(':scope > label .ik-req, :scope > legend .ik-req');
    const kind = { tag: e?.tagName, type: e?.type, mode: e?.inputMode, placeholder: e?.placeholder ?? '', required, empty: !e?.value };
    if (e?.tagName === 'INPUT' && e.type === 'radio') kind.groupAnswered = !!q?.querySelector('input[type=radio]:checked');
    if (e?.tagName === 'INPUT' && e.type === 'checkbox') kind.groupAnswered = !!q?.querySelector('input[type=checkbox]:checked');
    if (e?.list) kind.firstOption = e.list.querySelector('option')?.value ?? null;
    kind.text = e?.textContent?.trim();
    return kind;
  });
}

function wordsFor(k) {
  if (k.type === 'url') return 'https://example.org';
  if (k.type === 'email') return 'kay@example.org';
  if (k.type === 'tel') return '5555550100';
  if (k.type === 'time') return '0930A';
  // A date field's hint ("For example 6/21/2019 (month/day/year)..."): a date as a patient types it.
  if (/\d{4}|yyyy/i.test(k.placeholder)) return '1/2/2020';
  if (k.mode === 'numeric') return '3';
  if (k.mode === 'decimal') return '3.5';
  if (k.firstOption) return k.firstOption;
  return 'Kay';
}

async function completeWithKeyboard(page, budget) {
  for (let step = 0; step < budget; step++) {
    if (await page.evaluate(() => window.sent !== null)) return step;
    await page.keyboard.press('Tab');
    const k = await answerFocused(page);
    if (k.tag === 'BUTTON' && /^(Next|Send my answers)$/.test(k.text)) {
      await page.keyboard.press('Enter');
      await page.waitForTimeout(30);
    } else if (!k.required) {
      continue;
    } else if (k.type === 'radio' || k.type === 'checkbox') {
      if (!k.groupAnswered) await page.keyboard.press('Space');
    } else if (k.tag === 'SELECT' && k.empty) {
      await page.keyboard.press('ArrowDown');
    } else if ((k.tag === 'INPUT' || k.tag === 'TEXTAREA') && k.empty && k.type !== 'file') {
      if (k.type === 'date') await page.keyboard.type('01022020');
      else await page.keyboard.type(wordsFor(k));
    }
  }
  const summary = await page.locator('#host .ik-summary, #host .ik-error').allTextContents();
  throw new Error(`not sent after ${budget} keyboard steps; on the page: ${summary.slice(0, 5).join(' | ')}`);
}

describe('corpus forms with value-set choices, completed with the keyboard only (issue 9)', () => {
  const forms = formsWithValueSetChoices();
  it(`finds the forms (${forms.length})`, () => assert.ok(forms.length >= 80, `${forms.length}`));
  const figures = [];
  for (const f of forms) {
    it(f.name, async () => {
      const { page, problems, context } = await openPage(browser);
      try {
        await hostIn(page, server.url);
        const refused = await page.evaluate(async ({ q, chart }) => {
          const m = window.intake;
          const host = document.querySelector('#host');
          window.sent = null;
          window.errors = [];
          try {
            window.form = m.mount(host, {
              questionnaire: q, chart, storage: false, now: '2026-11-20T09:00:00Z',
              onSubmit: (bundle, response) => { window.sent = { bundle, response }; },
              onError: (e) => window.errors.push(String(e.message ?? e)),
            });
            return null;
          } catch (e) {
            return String(e.message ?? e);
          }
        }, { q: f.q, chart: CHART });
        // Refused only where an answer could not refer to its question (an item with no
        // linkId is invalid R4): the error names the place, and the page says so plainly.
        if (refused) {
          assert.match(refused, /at Questionnaire\.item\[\d+\]: item has no linkId/);
          figures.push(`${f.name}: refused (${refused})`);
          return;
        }
        await page.waitForSelector('#host .ik-page h3');
        const steps = await completeWithKeyboard(page, 60 + f.items * 8);
        const { bundle, response } = await page.evaluate(() => window.sent);
        assert.equal(bundle.type, 'transaction');
        assert.equal(response.status, 'completed');
        const fellBack = (await page.evaluate(() => window.errors)).filter((e) => e.includes('takes free text')).length;
        figures.push(`${f.name}: ${steps} keyboard steps, ${f.hits} value-set choices, ${fellBack} fell back to free text`);
        assert.deepEqual(problems, []);
      } finally {
        await context.close();
      }
    });
  }
  after(() => console.log(`# ${figures.length} forms sent:\n# ${figures.join('\n# ')}`));
});
