// Value sets and bare forms in the browser (issue 9): choice questions whose options come from
// the host's ValueSets, from nowhere (free text, coded later by a clinician), or from the
// host's terminology search (slow, failing, normal); and a Questionnaire mounted with no chart.
// Everything is done with the keyboard only, as a patient without a mouse would.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { axe, enableWhenChain, hostIn, launch, openPage, ROOT, serve } from './lib.mjs';

const CORPUS = join(ROOT, '..', 'shared', 'corpus', 'questionnaires');
const read = (p) => JSON.parse(readFileSync(p, 'utf8'));
const PHQ9 = read(join(CORPUS, 'fhir-r4-core-examples', 'Questionnaire-phq-9-questionnaire.json'));
const RXTERMS = read(join(CORPUS, 'sdc-ig', 'repo-input-resources', 'Questionnaire-rxterms.json'));
const LL358 = read(join(ROOT, 'tests', 'fixtures', 'valuesets', 'LL358-3.json'));
const CHART = { resourceType: 'Patient', id: 'vs-test', name: [{ family: 'Test', given: ['Val'] }], birthDate: '1980-05-01', gender: 'female' };

let browser, server;
before(async () => {
  server = await serve();
  browser = await launch();
});
after(async () => {
  await browser?.close();
  server?.stop();
});

/**
 * Open the demo server's page and mount `options` into a fresh host element. Functions cannot
 * cross into the page, so `terminology` names a canned host search (see below) and the page
 * records what onSubmit and onError received.
 */
async function mountForm(options, terminology) {
  const p = await openPage(browser);
  await hostIn(p.page, server.url);
  await p.page.evaluate(async ({ options, terminology }) => {
    const m = window.intake;
    const host = document.querySelector('#host');
    window.sent = null;
    window.errors = [];
    window.searches = [];
    const opts = {
      ...options,
      storage: false,
      onSubmit: (bundle, response) => { window.sent = { bundle, response }; },
      onError: (e) => window.errors.push(String(e.message ?? e)),
    };
    // A host terminology service over a small drug list: answers after `delay` ms, or fails.
    const DRUGS = [
      { system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '197361', display: 'Amlodipine 5 MG Oral Tablet' },
      { system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '308136', display: 'Amlodipine 2.5 MG Oral Tablet' },
      { system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '860975', display: 'Metformin 500 MG Oral Tablet' },
    ];
    if (terminology) {
      opts.expandValueSet = (req) => {
        window.searches.push(req);
        const mode = window.searchMode ?? terminology;
        return new Promise((resolve, reject) => setTimeout(() => {
          if (mode === 'fail') return reject(new Error('terminology server unreachable (test)'));
          const f = req.filter.toLowerCase();
          resolve({ resourceType: 'ValueSet', url: req.url, expansion: { contains: DRUGS.filter((d) => d.display.toLowerCase().includes(f)) } });
        }, mode === 'slow' ? 1500 : 50));
      };
    }
    window.form = m.mount(host, opts);
  }, { options, terminology });
  await p.page.waitForSelector('#host .ik-page h3');
  return p;
}

/** Tab to the next focusable element; returns a description of it. */
async function tab(page) {
  await page.keyboard.press('Tab');
  return page.evaluate(() => {
    const e = document.activeElement;
    return { tag: e?.tagName, type: e?.type, text: e?.textContent?.trim(), checked: e?.checked, value: e?.value, name: e?.name, id: e?.id };
  });
}

/**
 * Fill a page with the keyboard only: Space on the first radio of each group, `answers(label)`
 * typed into text fields, then Enter on the page's forward button. Repeats until onSubmit ran.
 */
async function completeWithKeyboard(page, textFor) {
  const seenGroups = new Set();
  for (let step = 0; step < 400; step++) {
    if (await page.evaluate(() => window.sent !== null)) return;
    const f = await tab(page);
    if (f.tag === 'INPUT' && f.type === 'radio' && !seenGroups.has(f.name)) {
      seenGroups.add(f.name);
      await page.keyboard.press('Space');
    } else if (f.tag === 'INPUT' && f.type === 'text' && !f.value) {
      const label = await page.evaluate(() => {
        const e = document.activeElement;
        return document.querySelector(`label[for="${e.id}"]`)?.textContent?.trim() ?? '';
      });
      const text = textFor(label);
      if (text !== null) await page.keyboard.type(text);
    } else if (f.tag === 'BUTTON' && /^(Next|Send my answers|Continue)/.test(f.text)) {
      await page.keyboard.press('Enter');
      await page.waitForTimeout(50);
      seenGroups.clear();
    }
  }
  throw new Error('the form was not sent after 400 keyboard steps');
}

describe('value sets (issue 9)', () => {
  it('PHQ-9 (R4 example) with the host\'s LOINC ValueSet: options render, keyboard-only completion, codings sent', async () => {
    const { page, problems, context } = await mountForm({ questionnaire: PHQ9, chart: CHART, valueSets: [LL358] });
    const radios = await page.locator('#host input[type=radio]').count();
    assert.equal(radios, 9 * 4, 'nine questions of four LOINC answers each');
    assert.deepEqual(await axe(page), []);
    await completeWithKeyboard(page, () => '7');
    const { bundle, response } = await page.evaluate(() => window.sent);
    assert.equal(bundle.type, 'transaction');
    const first = response.item.find((i) => i.linkId === 'LittleInterest');
    assert.deepEqual(first.answer[0].valueCoding, { system: 'http://loinc.org', code: 'LA6568-5', display: 'Not at all' });
    const errors = await page.evaluate(() => window.errors);
    assert.ok(!errors.some((e) => e.includes('LL358-3')), `no fallback warnings: ${errors.join('\n')}`);
    assert.deepEqual(problems, []);
    await context.close();
  });

  it('PHQ-9 with nobody listing the value set: free text answers, each sent for coding, onError names the items', async () => {
    const { page, problems, context } = await mountForm({ questionnaire: PHQ9, chart: CHART });
    const errors = await page.evaluate(() => window.errors);
    assert.equal(errors.filter((e) => e.includes('http://loinc.org/vs/LL358-3') && e.includes('free text')).length, 9, errors.join('\n'));
    // The patient never sees the developer text.
    assert.ok(!(await page.locator('#host').textContent()).includes('loinc.org'));
    assert.deepEqual(await axe(page), []);
    await completeWithKeyboard(page, (label) => (label.startsWith('Patient Health Questionnaire') || /score/i.test(label) ? '7' : 'Several days'));
    const { bundle, response } = await page.evaluate(() => window.sent);
    assert.deepEqual(response.item.find((i) => i.linkId === 'FeelingDown').answer, [{ valueString: 'Several days' }]);
    const tasks = bundle.entry.map((e) => e.resource).filter((r) => r.resourceType === 'Task' && /could not be listed/.test(r.description));
    assert.equal(tasks.length, 9, 'one coding Task per free-text choice');
    assert.deepEqual(problems, []);
    await context.close();
  });

  it('a host terminology search that is slow, fails, and answers: the patient always ends with an answer', async () => {
    const q = { resourceType: 'Questionnaire', status: 'active', item: [
      { linkId: 'med', text: 'Medication', type: 'choice', required: true, answerValueSet: 'https://clinicaltables.nlm.nih.gov/fhir/R4/ValueSet/rxterms' },
    ] };
    const { page, problems, context } = await mountForm({ questionnaire: q, chart: CHART }, 'slow');
    const field = page.getByLabel('Medication');
    const status = page.locator('#host .ik-search-status');
    // Slow: "Searching…" is announced while it runs; the matches arrive after.
    await field.focus();
    await page.keyboard.type('amlo');
    await status.filter({ hasText: 'Searching' }).waitFor({ timeout: 3000 });
    await status.filter({ hasText: '2 matches' }).waitFor({ timeout: 5000 });
    assert.equal(await page.locator('#host datalist option').count(), 2);
    const asked = await page.evaluate(() => window.searches.at(-1));
    assert.deepEqual(asked, { url: 'https://clinicaltables.nlm.nih.gov/fhir/R4/ValueSet/rxterms', filter: 'amlo', count: 20, language: 'en' });
    // Debounced: four keystrokes, one request.
    assert.equal(await page.evaluate(() => window.searches.length), 1);

    // Failing: the words stay, the patient is told plainly, the host hears why.
    await page.evaluate(() => { window.searchMode = 'fail'; });
    await page.keyboard.press('Control+A');
    await page.keyboard.type('lisinopril 10');
    await status.filter({ hasText: 'not available' }).waitFor({ timeout: 3000 });
    assert.equal(await field.inputValue(), 'lisinopril 10');
    assert.ok((await page.evaluate(() => window.errors)).some((e) => e.includes('terminology server unreachable (test)')));
    await page.keyboard.press('Tab');
    const kept = await page.evaluate(() => window.form.getResponse().item[0].answer);
    assert.deepEqual(kept, [{ valueString: 'lisinopril 10' }], 'the words are the answer until a match is picked');

    // Normal: a match picked by its exact name is sent as its coding.
    await page.evaluate(() => { window.searchMode = 'normal'; });
    await field.focus();
    await page.keyboard.press('Control+A');
    await page.keyboard.type('Metformin 500 MG Oral Tablet');
    await status.filter({ hasText: '1 matches' }).waitFor({ timeout: 3000 });
    await page.keyboard.press('Tab');
    await completeWithKeyboard(page, () => null);
    const { response } = await page.evaluate(() => window.sent);
    assert.deepEqual(response.item[0].answer[0].valueCoding, { system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '860975', display: 'Metformin 500 MG Oral Tablet' });
    assert.deepEqual(await axe(page), []);
    assert.deepEqual(problems, []);
    await context.close();
  });

  it('the failed search\'s words are what is sent when the patient keeps them', async () => {
    const { page, problems, context } = await mountForm({ questionnaire: RXTERMS, chart: CHART }, 'fail');
    const field = page.locator('#host input[list]').first();
    await field.focus();
    await page.keyboard.type('my blue pill');
    await page.locator('#host .ik-search-status', { hasText: 'not available' }).waitFor({ timeout: 3000 });
    await page.keyboard.press('Tab');
    await completeWithKeyboard(page, () => null);
    const { response, bundle } = await page.evaluate(() => window.sent);
    const med = JSON.stringify(response.item);
    assert.ok(med.includes('"valueString":"my blue pill"'), med);
    assert.ok(bundle.entry.some((e) => e.resource.resourceType === 'Task' && e.resource.description.includes('my blue pill')));
    assert.deepEqual(problems, []);
    await context.close();
  });
});

describe('a bare form with no chart (issue 9)', () => {
  it('renders, fills and sends the response alone; only the write-back says a chart is needed', async () => {
    const q = { resourceType: 'Questionnaire', status: 'active', url: 'http://example.org/Questionnaire/survey', item: [
      { linkId: 'name', text: 'Your name', type: 'string', required: true },
      { linkId: 'ok', text: 'Happy with the service?', type: 'boolean' },
    ] };
    const { page, problems, context } = await mountForm({ questionnaire: q });
    assert.ok((await page.evaluate(() => window.errors)).some((e) => e.includes('no chart')));
    await completeWithKeyboard(page, () => 'Alex');
    const { bundle, response } = await page.evaluate(() => window.sent);
    assert.equal(bundle, null);
    assert.equal(response.subject, undefined);
    assert.equal(response.author, undefined);
    assert.deepEqual(response.item[0].answer, [{ valueString: 'Alex' }]);
    await page.getByRole('heading', { name: 'Thank you' }).waitFor();
    assert.deepEqual(problems, []);
    await context.close();
  });

  it('with a subject and no chart, the response names the subject', async () => {
    const q = { resourceType: 'Questionnaire', status: 'active', item: [{ linkId: 'a', text: 'Anything to add?', type: 'string' }] };
    const { page, problems, context } = await mountForm({ questionnaire: q, subject: 'Patient/42' });
    await completeWithKeyboard(page, () => 'no');
    const { bundle, response } = await page.evaluate(() => window.sent);
    assert.equal(response.subject.reference, 'Patient/42');
    assert.equal(bundle.type, 'transaction');
    assert.deepEqual(problems, []);
    await context.close();
  });
});

describe('a question\'s fields follow its state (one binding per set of options, issue 12)', () => {
  it('radios, checkboxes and text fields carry aria-invalid, aria-describedby and checked as the answers and errors change', async () => {
    const exclusive = [{ url: 'http://hl7.org/fhir/StructureDefinition/questionnaire-optionExclusive', valueBoolean: true }];
    const q = { resourceType: 'Questionnaire', status: 'active', title: 'State', item: [
      { linkId: 'smoke', text: 'Do you smoke?', type: 'boolean', required: true },
      { linkId: 'pain', text: 'Pain', type: 'choice', required: true, answerOption: ['none', 'some', 'lots'].map((code) => ({ valueCoding: { code, display: code } })) },
      { linkId: 'sym', text: 'Symptoms', type: 'choice', repeats: true, answerOption: [
        { valueCoding: { code: 'cough', display: 'Cough' } }, { valueCoding: { code: 'fever', display: 'Fever' } },
        { valueCoding: { code: 'nothing', display: 'None of these' }, extension: exclusive }] },
      { linkId: 'age', text: 'Age', type: 'integer', required: true,
        extension: [{ url: 'http://intake-engine.org/fhir/StructureDefinition/why-asked', valueString: 'Some doses depend on age.' }] },
    ] };
    const { page, problems, context } = await mountForm({ questionnaire: q });
    const block = (l) => page.locator(`#host [data-linkid="${l}"]`);
    /** Each field of a question: [aria-invalid, whether aria-describedby names its errors, checked]. */
    const fields = (l) => block(l).evaluate((b) => {
      const errors = b.querySelector('.ik-errors').id;
      return [...b.querySelectorAll('input')].map((i) => [i.getAttribute('aria-invalid'), (i.getAttribute('aria-describedby') || '').split(' ').includes(errors), i.checked]);
    });
    assert.deepEqual(await fields('smoke'), [[null, false, false], [null, false, false]], 'no errors before the patient tries to go on');
    // A form without rules: the required marks and the author's reason are the form's, fixed.
    assert.deepEqual(await page.locator('#host .ik-q').evaluateAll((qs) => qs.map((q) => !!q.querySelector(':scope > label .ik-req, :scope > legend .ik-req'))), [true, true, false, true]);
    const why = block('age').locator('.ik-why');
    assert.equal((await why.textContent()).trim(), 'Why we ask: Some doses depend on age.');
    assert.ok((await block('age').locator('input').getAttribute('aria-describedby')).split(' ').includes(await why.getAttribute('id')), 'the reason describes the field');
    await page.getByRole('button', { name: 'Next' }).click();
    await block('smoke').locator('.ik-error').waitFor();
    assert.deepEqual(await fields('smoke'), [['true', true, false], ['true', true, false]], 'both radios are invalid and described by the error');
    assert.deepEqual(await fields('pain'), Array(3).fill(['true', true, false]));
    assert.deepEqual(await fields('age'), [['true', true, false]]);
    assert.equal(await block('age').locator('input').getAttribute('aria-required'), 'true');
    await block('smoke').getByLabel('Yes').check();
    await page.waitForFunction(() => !document.querySelector('#host [data-linkid="smoke"] input[aria-invalid]'));
    assert.deepEqual(await fields('smoke'), [[null, false, true], [null, false, false]], 'answered: valid, and Yes checked');
    await block('pain').getByLabel('lots').check();
    await block('pain').getByLabel('some').check();
    assert.deepEqual((await fields('pain')).map((f) => f[2]), [false, true, false], 'a radio replaces the answer');
    // The engine unticks the others when the exclusive option is ticked: the checkboxes show it.
    await block('sym').getByLabel('Cough').check();
    await block('sym').getByLabel('Fever').check();
    await block('sym').getByLabel('None of these').check();
    await page.waitForFunction(() => !document.querySelector('#host [data-linkid="sym"] input[value="0"]').checked);
    assert.deepEqual((await fields('sym')).map((f) => f[2]), [false, false, true]);
    await block('sym').getByLabel('Fever').check();
    await page.waitForFunction(() => !document.querySelector('#host [data-linkid="sym"] input[value="2"]').checked);
    assert.deepEqual((await fields('sym')).map((f) => f[2]), [false, true, false], 'and the exclusive one goes when another is ticked');
    const age = block('age').locator('input');
    await age.fill('4O');
    await age.press('Tab');
    await block('age').locator('.ik-error', { hasText: 'whole number' }).waitFor();
    assert.equal(await age.inputValue(), '4O', 'what the patient typed stays');
    await age.fill('40');
    await age.press('Tab');
    await page.waitForFunction(() => !document.querySelector('#host [data-linkid="age"] input').hasAttribute('aria-invalid'));
    assert.equal(await age.inputValue(), '40');
    const answers = await page.evaluate(() => Object.fromEntries(window.form.getResponse().item.map((i) => [i.linkId, i.answer])));
    assert.deepEqual(answers, {
      smoke: [{ valueBoolean: true }], pain: [{ valueCoding: { code: 'some', display: 'some' } }],
      sym: [{ valueCoding: { code: 'fever', display: 'Fever' } }], age: [{ valueInteger: 40 }],
    });
    assert.deepEqual(await axe(page), []);
    assert.deepEqual(problems, []);
    await context.close();
  });
});

describe('rendering fidelity on real forms (issue 9)', () => {
  it('follow-ups nested under a question render under it, and every item carries its linkId (USSG family portrait)', async () => {
    const ussg = read(join(CORPUS, 'lforms', 'R4', 'ussg-fhp.json'));
    const { page, problems, context } = await mountForm({ questionnaire: ussg });
    await page.getByRole('button', { name: 'Next' }).click();
    const living = page.locator('#host [data-linkid="/54114-4/54139-1"][data-repeat="0"]');
    await living.waitFor();
    // Another family member: the same question again, as the second repeat.
    await page.locator('#host button', { hasText: /Add/ }).first().click();
    await page.locator('#host [data-linkid="/54114-4/54139-1"][data-repeat="1"]').waitFor();
    const cause = living.locator('[data-linkid="/54114-4/54139-1/54112-8"]');
    assert.equal(await cause.count(), 0, 'hidden until "Living? No"');
    await living.locator('select').first().selectOption({ label: 'No' });
    await cause.waitFor();
    assert.equal(await living.locator('[data-linkid="/54114-4/54139-1/54113-6"]').count(), 1, 'Age at Death too');
    assert.deepEqual(await axe(page), []);
    await living.locator('select').first().selectOption({ label: 'Yes' });
    // Hidden again, its elements kept (and hidden from assistive technology).
    await cause.waitFor({ state: 'hidden' });
    assert.equal(await cause.getAttribute('hidden'), '');
    assert.deepEqual(problems, []);
    await context.close();
  });

  it('a UCUM annotation unit ({score}) is never shown with its braces', async () => {
    const q = { resourceType: 'Questionnaire', status: 'active', title: 'Score', item: [
      { linkId: 's', text: 'Total score', type: 'integer', extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/questionnaire-unit', valueCoding: { system: 'http://unitsofmeasure.org', code: '{score}' } }] },
      { linkId: 'r', text: 'Resting pulse', type: 'integer', extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/questionnaire-unit', valueCoding: { system: 'http://unitsofmeasure.org', code: '{beats}/min' } }] },
    ] };
    const { page, problems, context } = await mountForm({ questionnaire: q });
    const text = await page.locator('#host').textContent();
    assert.ok(!text.includes('{'), text);
    assert.equal(await page.locator('#host [data-linkid="r"] .ik-unit').textContent(), '/min');
    assert.equal(await page.locator('#host [data-linkid="s"] .ik-unit').count(), 0);
    assert.deepEqual(problems, []);
    await context.close();
  });
});

describe('hiding and showing keeps the elements (issue 12)', () => {
  it('a chain hidden and shown again is the same elements, answers in place; 40 new questions are announced as 3 and a count', async () => {
    const chain = enableWhenChain(40);
    const { page, problems, context } = await mountForm({ questionnaire: chain });
    for (let i = 0; i < 40; i++) {
      await page.locator(`#host [data-linkid="i${i}"]`).getByLabel('Yes').check();
    }
    await page.evaluate(() => { window.kept = document.querySelector('#host [data-linkid="i20"]'); });
    const head = page.locator('#host [data-linkid="i0"]');
    await head.getByLabel('No').check();
    await page.locator('#host [data-linkid="i39"]').waitFor({ state: 'hidden' });
    assert.equal(await page.locator('#host [data-linkid="i20"]').getAttribute('hidden'), '');
    await head.getByLabel('Yes').check();
    await page.locator('#host [data-linkid="i39"]').waitFor();
    const same = await page.evaluate(() => window.kept === document.querySelector('#host [data-linkid="i20"]') && window.kept.isConnected);
    assert.ok(same, 'the element of i20 was kept, not rebuilt');
    assert.ok(await page.locator('#host [data-linkid="i20"]').getByLabel('Yes').isChecked());
    assert.equal(await page.locator('#host [data-linkid="i20"]').getAttribute('hidden'), null);
    // Polite announcement: three questions in full, then how many more.
    const said = await page.locator('#host .ik-sr[aria-live]').textContent();
    assert.equal((said.match(/New question:/g) || []).length, 3, said);
    assert.match(said, /36 more new questions below\.$/);
    // 40 questions: a short page, laid out at once (long pages defer off-screen questions).
    assert.equal(await page.locator('#host .ik-page.ik-long').count(), 0);
    assert.deepEqual(await axe(page), []);
    assert.deepEqual(problems, []);
    await context.close();
  });
});

describe('hiding and showing sets the kept element (issue 8, issue 12)', () => {
  it('an item hidden, its view rebuilt (a row added beside it), then shown again appears once, where it belongs', async () => {
    // Adding a row changes the group's children, so the views of its items are built again:
    // the hidden item's new view must be the one shown, not the element of its old one.
    const q = { resourceType: 'Questionnaire', status: 'active', title: 'Kept', item: [
      { linkId: 'g', text: 'Medicines', type: 'group', item: [
        { linkId: 'z', text: 'Do you take medicines?', type: 'boolean' },
        { linkId: 'x', text: 'Which pharmacy do you use?', type: 'string', enableWhen: [{ question: 'z', operator: '=', answerBoolean: true }] },
        { linkId: 'r', text: 'Medicine', type: 'group', repeats: true, item: [{ linkId: 'r1', text: 'Name', type: 'string' }] },
      ] },
    ] };
    const { page, problems, context } = await mountForm({ questionnaire: q });
    const z = page.locator('#host [data-linkid="z"]');
    const x = page.locator('#host [data-linkid="x"]');
    await z.getByLabel('Yes').check();
    await x.waitFor();
    await x.locator('input').fill('Main Street');
    await z.getByLabel('No').check();
    await x.waitFor({ state: 'hidden' });
    const rows = await page.locator('#host [data-linkid="r1"]').count();
    await page.locator('#host button', { hasText: /^Add (another )?medicine$/ }).click();
    await page.locator('#host [data-linkid="r1"]').nth(rows).waitFor();
    await z.getByLabel('Yes').check();
    await x.waitFor();
    assert.equal(await x.count(), 1, 'one element for the item');
    assert.equal(await x.getAttribute('hidden'), null);
    assert.equal(await x.locator('input').inputValue(), 'Main Street', 'the answer kept while hidden is shown again');
    await z.getByLabel('No').check();
    await x.waitFor({ state: 'hidden' });
    assert.deepEqual(problems, []);
    await context.close();
  });

  it('answering a shown question again rewrites nothing of it but its answer (its reason stays as it is)', async () => {
    const q = { resourceType: 'Questionnaire', status: 'active', title: 'Quiet', item: [
      { linkId: 'smoke', text: 'Do you smoke?', type: 'boolean' },
      { linkId: 'packs', text: 'Packs a day', type: 'integer', enableWhen: [{ question: 'smoke', operator: '=', answerBoolean: true }] },
    ] };
    const { page, problems, context } = await mountForm({ questionnaire: q });
    await page.locator('#host [data-linkid="smoke"]').getByLabel('Yes').check();
    const packs = page.locator('#host [data-linkid="packs"]');
    await packs.locator('.ik-why').waitFor();
    await packs.locator('input').fill('1');
    await packs.locator('input').blur();
    const out = await page.evaluate(async () => {
      const q = document.querySelector('#host [data-linkid="packs"]');
      const records = [];
      const mo = new MutationObserver((l) => records.push(...l));
      mo.observe(q, { subtree: true, childList: true, attributes: true, characterData: true });
      const input = q.querySelector('input');
      input.value = '2';
      input.dispatchEvent(new Event('change', { bubbles: true }));
      await new Promise((r) => setTimeout(r, 50));
      mo.disconnect();
      const where = (r) => `${r.type} ${r.attributeName ?? ''} on ${(r.target.nodeType === 1 ? r.target : r.target.parentElement).className}`;
      return { why: records.filter((r) => (r.target.nodeType === 1 ? r.target : r.target.parentElement).closest('.ik-why')).map(where), answer: window.form.getResponse().item[1].answer };
    });
    assert.deepEqual(out.answer, [{ valueInteger: 2 }]);
    assert.deepEqual(out.why, [], 'the reason\'s paragraph is left alone');
    assert.deepEqual(problems, []);
    await context.close();
  });

  it('a repeating group hidden and shown again keeps its rows\' elements and what was typed in them', async () => {
    // MBS 715's carers' details (a repeating group shown by %age) had its row rebuilt on every
    // age answer that hid and showed it: its DOM made again, a draft in it lost.
    const q = { resourceType: 'Questionnaire', status: 'active', title: 'Kept rows', item: [
      { linkId: 'child', text: 'Is the patient a child?', type: 'boolean' },
      { linkId: 'carer', text: 'Carer', type: 'group', repeats: true, enableWhen: [{ question: 'child', operator: '=', answerBoolean: true }], item: [
        { linkId: 'carer.name', text: 'Carer name', type: 'string' },
        { linkId: 'carer.age', text: 'Carer age', type: 'integer' },
      ] },
    ] };
    const { page, problems, context } = await mountForm({ questionnaire: q });
    const child = page.locator('#host [data-linkid="child"]');
    const row = page.locator('#host fieldset.ik-row');
    await child.getByLabel('Yes').check();
    await row.waitFor();
    await page.locator('#host [data-linkid="carer.name"] input').fill('Ada');
    await page.locator('#host [data-linkid="carer.name"] input').blur();
    // Text not valid yet: kept as typed in the field (no answer for it).
    await page.locator('#host [data-linkid="carer.age"] input').fill('4O');
    await page.locator('#host [data-linkid="carer.age"] input').blur();
    await page.evaluate(() => { document.querySelector('#host fieldset.ik-row').dataset.mark = 'first'; });
    await child.getByLabel('No').check();
    await row.waitFor({ state: 'hidden' });
    assert.equal(await row.count(), 1, 'the hidden row keeps its element');
    await child.getByLabel('Yes').check();
    await row.waitFor();
    assert.equal(await row.count(), 1);
    assert.equal(await row.getAttribute('data-mark'), 'first', 'the same element, not one built again');
    assert.equal(await row.getAttribute('hidden'), null);
    assert.equal(await page.locator('#host [data-linkid="carer.name"] input').inputValue(), 'Ada');
    assert.equal(await page.locator('#host [data-linkid="carer.age"] input').inputValue(), '4O', 'text not valid yet is still there');
    const answer = await page.evaluate(() => window.form.getResponse().item.find((i) => i.linkId === 'carer').item[0].answer);
    assert.deepEqual(answer, [{ valueString: 'Ada' }]);
    assert.deepEqual(problems, []);
    await context.close();
  });
});

describe('choice display niceties (issue 9)', () => {
  it('optionPrefix, choiceOrientation horizontal and rendering-xhtml on options are honoured', async () => {
    const x = (v) => ({ extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/rendering-xhtml', valueString: v }] });
    const prefix = (p) => [{ url: 'http://hl7.org/fhir/StructureDefinition/questionnaire-optionPrefix', valueString: p }];
    const q = { resourceType: 'Questionnaire', status: 'active', title: 'Niceties', item: [
      { linkId: 'pain', text: 'Pain', type: 'choice',
        extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/questionnaire-choiceOrientation', valueCode: 'horizontal' }],
        answerOption: [
          { valueCoding: { code: 'none', display: 'None' }, extension: prefix('(a)') },
          { valueCoding: { code: 'some', display: 'Some' }, extension: prefix('(b)') },
          { valueString: 'A lot', _valueString: x('<div>A <b>lot</b></div>'), extension: prefix('(c)') },
          { valueString: 'Worst', extension: prefix('4') },
        ] },
    ] };
    const { page, problems, context } = await mountForm({ questionnaire: q });
    const block = page.locator('#host [data-linkid="pain"]');
    assert.equal(await block.locator('.ik-options.ik-horizontal').count(), 1);
    assert.deepEqual((await block.locator('.ik-option label').allTextContents()).map((t) => t.trim()), ['(a) None', '(b) Some', '(c) A lot', '4. Worst']);
    assert.equal(await block.locator('.ik-option label strong').textContent(), 'lot', 'the option\'s rich text, whitelisted');
    await block.getByLabel('(b) Some').check();
    const answer = await page.evaluate(() => window.form.getResponse().item[0].answer);
    assert.deepEqual(answer, [{ valueCoding: { code: 'some', display: 'Some' } }], 'the prefix is display only');
    assert.deepEqual(await axe(page), []);
    assert.deepEqual(problems, []);
    await context.close();
  });
});
