// The patient's side, in real Chromium: every visit type completed as a patient would (mouse,
// and keyboard only), branching and reasons, validation, review, submit and the Bundle's
// content; resume after reload; double submit; hostile questionnaire text; axe-core on every
// page state; screenshots at phone and desktop sizes.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { axe, launch, openPage, question, resources, serve, shot, startDemo, submittedBundle, tabTo } from './lib.mjs';

let browser, server;
before(async () => {
  server = await serve();
  browser = await launch();
});
after(async () => {
  await browser?.close();
  server?.stop();
});

async function noAxeViolations(page, state) {
  const v = await axe(page);
  assert.deepEqual(v, [], `axe violations on ${state}:\n${v.join('\n')}`);
}

async function type(locator, value) {
  await locator.fill(value);
  await locator.press('Tab');
}

/**
 * Count what a patient does on a journey: taps (clicks), fields typed into, and the distinct
 * screens (page headings) seen. Printed as a figure at the end of each journey, never asserted.
 */
async function countJourney(page) {
  await page.addInitScript(() => {
    window.__journey = { taps: 0, fields: 0, keys: 0, screens: [] };
    document.addEventListener('click', (e) => { if (e.isTrusted) window.__journey.taps++; }, true);
    document.addEventListener('change', (e) => { if (e.target.matches?.('input[type=text], input[type=tel], input[type=email], textarea')) window.__journey.fields++; }, true);
    document.addEventListener('keydown', (e) => { if (e.isTrusted) window.__journey.keys++; }, true);
    new MutationObserver(() => {
      const h = document.querySelector('.ik-page h3')?.textContent;
      const j = window.__journey;
      if (h && j.screens[j.screens.length - 1] !== h) j.screens.push(h);
    }).observe(document, { subtree: true, childList: true, characterData: true });
  });
}

async function printJourney(page, name) {
  const j = await page.evaluate(() => window.__journey);
  console.log(`journey ${name}: ${j.taps} taps, ${j.fields} fields typed, ${j.keys} keys, ${j.screens.length} screens (${j.screens.join(' > ')})`);
}

async function next(page) {
  await page.getByRole('button', { name: /^(Next|Siguiente)$/ }).click();
}


describe('hypertension follow-up, María (mouse)', () => {
  it('branches with reasons, reviews the chart lists, validates, and submits only the differences', async () => {
    const { page, problems, context } = await openPage(browser, { bypassCSP: true });
    await countJourney(page);
    await startDemo(page, server.url, 'hypertension-follow-up', 'maria-hernandez');
    await noAxeViolations(page, 'first page');

    // Reasons from rules: the chart lists hypertension; she takes lisinopril (ACE inhibitor).
    await page.locator('.ik-why', { hasText: 'Your chart lists high blood pressure, so we ask about your home readings.' }).waitFor();
    assert.equal(await page.getByText('Have your ankles been swelling?').count(), 0, 'the amlodipine question stays hidden');
    const home = question(page, 'Do you check your blood pressure at home?');
    await home.getByLabel('Yes').check();
    // The home reading group appears, saying why.
    await page.locator('.ik-why', { hasText: 'You answered “Yes” to “Do you check your blood pressure at home?”.' }).waitFor();
    await type(page.getByLabel(/Top number/), '142');
    await type(page.getByLabel(/Bottom number/), '88');
    await type(page.getByLabel(/When did you take it/), '2026-11-18');
    assert.equal(await page.getByText('Right now, do you have any of these?').count(), 0, 'no crisis question at 142/88');
    await question(page, 'Do you feel dizzy').getByLabel('No').check();
    await question(page, 'dry cough').getByLabel('No').check();
    await noAxeViolations(page, 'first page answered');
    await next(page);

    // Medications on file: confirm two, change the dose of one.
    await page.getByRole('heading', { name: 'Medications' }).waitFor();
    await noAxeViolations(page, 'medications page');
    const row = (text) => page.locator('fieldset.ik-row', { hasText: text });
    await row('lisinopril').getByLabel('Yes, still correct').check();
    await row('metformin').getByLabel('Yes, still correct').check();
    assert.equal(await row('atorvastatin').getByLabel(/How do you take it/).count(), 0, 'fields closed until "changed"');
    await row('atorvastatin').getByLabel('Needs a change').check();
    await type(row('atorvastatin').getByLabel(/How do you take it/), 'half a tablet at bedtime');
    // Next without the required missed-doses answer: the error summary links to the field.
    await next(page);
    const summary = page.locator('.ik-summary');
    await summary.waitFor();
    await noAxeViolations(page, 'error summary');
    await summary.getByRole('link').first().click();
    assert.match(await page.evaluate(() => document.activeElement?.id || ''), /^ik\d+-f-\d+/, 'the summary link focuses the field');
    await type(page.getByLabel(/on how many days did you miss a dose/), '4');
    await page.locator('.ik-why', { hasText: 'You missed several doses; knowing why helps us find a plan that works for you.' }).waitFor();
    await question(page, 'What made it hard to take?').getByLabel('Side effects').check();
    await next(page);

    // Allergies on file: one button confirms every row not yet reviewed.
    await page.getByRole('button', { name: 'Everything else here is still correct' }).click();
    await next(page);

    // Weight prefilled from the chart (82.5 kg); she weighed herself in pounds.
    const weight = question(page, 'Your current weight');
    assert.equal(await weight.locator('input[type=text]').inputValue(), '82.5');
    await weight.getByLabel('Unit').selectOption('[lb_av]');
    await type(weight.locator('input[type=text]'), '178');
    await next(page);
    await noAxeViolations(page, 'weight page');
    await type(page.getByLabel(/Anything you want to ask/), 'Can I take the statin in the morning?');
    await noAxeViolations(page, 'questions page');
    await next(page);

    // Review, change one answer through its link, come back, submit.
    await page.getByRole('heading', { name: 'Check your answers' }).waitFor();
    await noAxeViolations(page, 'review');
    // A figure, not an assertion: how long the review page is for María.
    const reviewSize = await page.evaluate(() => ({ height: document.querySelector('.ik-review').getBoundingClientRect().height, changes: document.querySelectorAll('.ik-review .ik-link').length }));
    console.log(`review page (María, 1280x800): ${Math.round(reviewSize.height)} px, ${reviewSize.changes} "Change" links`);
    await page.getByRole('button', { name: /Change — Top number/ }).click();
    await type(page.getByLabel(/Top number/), '144');
    // Next after a change from the review page goes straight back to the review page.
    await next(page);
    await page.getByRole('heading', { name: 'Check your answers' }).waitFor();
    await page.getByRole('button', { name: 'Send my answers' }).click();
    await page.getByRole('heading', { name: 'Thank you' }).waitFor();
    await noAxeViolations(page, 'thank you');
    const bundle = await submittedBundle(page);
    await printJourney(page, 'María, hypertension follow-up, mouse');

    assert.equal(bundle.type, 'transaction');
    const bp = resources(bundle, 'Observation').find((o) => o.code.coding.some((c) => c.code === '85354-9'));
    assert.ok(bp, 'home blood pressure Observation');
    assert.equal(bp.effectiveDateTime, '2026-11-18');
    assert.deepEqual(bp.component.map((c) => [c.code.coding[0].code, c.valueQuantity.value, c.valueQuantity.code]), [['8480-6', 144, 'mm[Hg]'], ['8462-4', 88, 'mm[Hg]']]);
    const weightObs = resources(bundle, 'Observation').find((o) => o.code.coding.some((c) => c.code === '29463-7'));
    assert.deepEqual([weightObs.valueQuantity.value, weightObs.valueQuantity.code], [178, '[lb_av]']);
    const statin = resources(bundle, 'MedicationStatement').find((m) => m.id === 'maria-atorvastatin');
    assert.equal(statin?.dosage?.[0]?.text, 'half a tablet at bedtime');
    assert.equal(resources(bundle, 'AllergyIntolerance').length, 0, 'confirmed allergies write nothing');
    const tasks = resources(bundle, 'Task').map((t) => t.description);
    assert.ok(tasks.some((d) => d.includes('Missed medicine on 3 or more')), tasks.join('\n'));
    assert.ok(tasks.some((d) => d.includes('side effects')), tasks.join('\n'));
    assert.deepEqual(problems, []);
    await context.close();
  });
});

describe('pediatric sick visit in Spanish, a mother answering for Leo (14 months)', () => {
  it('asks by age, explains in Spanish, records the proxy as author', async () => {
    const { page, problems, context } = await openPage(browser, { bypassCSP: true, locale: 'es-MX' });
    await countJourney(page);
    await startDemo(page, server.url, 'pediatric-sick-visit', 'leo-hernandez', 'es');
    await page.getByRole('heading', { name: 'Consulta por enfermedad de su hijo' }).waitFor();
    await noAxeViolations(page, 'es first page');
    await question(page, '¿Qué relación tiene con el niño?').getByLabel('Madre').check();
    await next(page);
    const symptoms = question(page, '¿Qué síntomas tiene su hijo o hija?');
    await symptoms.getByLabel('Fiebre').check();
    await symptoms.getByLabel('Tos').check();
    await page.locator('.ik-why', { hasText: 'Respondió “Fiebre” a “¿Qué síntomas tiene su hijo o hija?”.' }).first().waitFor();
    await type(page.getByLabel(/¿Cuántos días lleva enfermo\?/), '2');
    const fever = question(page, 'Temperatura más alta medida');
    await type(fever.locator('input[type=text]'), '39,2');
    await question(page, '¿Respira rápido').getByLabel('No').check();
    await noAxeViolations(page, 'es illness page');
    await next(page);
    await question(page, '¿Está tomando menos líquidos').getByLabel('Sí').check();
    await page.locator('.ik-why', { hasText: 'Como su hijo es menor de 2 años, preguntamos por los pañales mojados para revisar si está deshidratado.' }).waitFor();
    assert.equal(await page.getByText('¿Ha orinado en las últimas 8 horas?').count(), 0, 'asked only for older children');
    await type(page.getByLabel(/pañales mojados/), '5');
    await noAxeViolations(page, 'es hydration page');
    await next(page);
    await noAxeViolations(page, 'es weight page');
    await next(page);
    await page.getByRole('button', { name: 'Todo lo demás aquí sigue siendo correcto' }).click();
    await noAxeViolations(page, 'es allergies page');
    await next(page);
    await noAxeViolations(page, 'es worries page');
    await next(page);
    await page.getByRole('heading', { name: 'Revise sus respuestas' }).waitFor();
    await noAxeViolations(page, 'es review');
    await page.getByRole('button', { name: 'Enviar mis respuestas' }).click();
    const bundle = await submittedBundle(page);
    await printJourney(page, 'Ana for Leo, pediatric sick visit, Spanish, mouse');
    const qr = resources(bundle, 'QuestionnaireResponse')[0];
    assert.equal(qr.language, 'es');
    assert.equal(qr.subject.reference, 'Patient/leo-hernandez');
    assert.equal(qr.author.reference, 'RelatedPerson/leo-mother');
    const temp = resources(bundle, 'Observation').find((o) => o.code.coding.some((c) => c.code === '8310-5'));
    assert.deepEqual([temp.valueQuantity.value, temp.valueQuantity.code], [39.2, 'Cel']);
    assert.deepEqual(problems, []);
    await context.close();
  });
});

describe('new patient, keyboard only', () => {
  it('completes the form with Tab, typing, Space, arrows and Enter', async () => {
    const { page, problems, context } = await openPage(browser, { bypassCSP: true });
    await countJourney(page);
    await startDemo(page, server.url, 'new-patient-adult', 'sam-okafor');
    const focusedLabel = (text) => `(() => { const e = document.activeElement; const l = e && e.labels && e.labels[0]; return !!l && l.textContent.includes(${JSON.stringify(text)}); })()`;
    const focusedButton = (text) => `(() => document.activeElement?.tagName === 'BUTTON' && document.activeElement.textContent.trim().startsWith(${JSON.stringify(text)}))()`;
    // Prefilled from the chart: name, birth date, sex, phone.
    assert.equal(await page.getByLabel(/First name/).inputValue(), 'Samuel');
    await tabTo(page, focusedLabel('Email'), 'Email');
    await page.keyboard.type('sam.okafor@example.com');
    await tabTo(page, focusedButton('Next'), 'Next');
    await page.keyboard.press('Enter');
    // Each page opened takes the focus to its heading, the first page too when Back returns
    // to it (the Back button goes with the page it was on).
    const focusedHeading = () => page.evaluate(() => document.activeElement?.tagName === 'H3');
    await page.waitForFunction(() => document.activeElement?.tagName === 'H3');
    await tabTo(page, focusedButton('Back'), 'Back');
    await page.keyboard.press('Enter');
    await page.getByLabel(/First name/).waitFor();
    await page.waitForFunction(() => document.activeElement?.tagName === 'H3', null, { timeout: 2000 }).catch(() => {});
    assert.ok(await focusedHeading(), `Back to the first page: the focus is on ${await page.evaluate(() => document.activeElement?.outerHTML.slice(0, 80))}`);
    await tabTo(page, focusedButton('Next'), 'Next');
    await page.keyboard.press('Enter');
    await tabTo(page, focusedLabel('What brings you in?'), 'reason');
    await page.keyboard.type('Headaches most days for two weeks');
    await tabTo(page, focusedButton('Next'), 'Next');
    await page.keyboard.press('Enter');
    // Allergies: add a row, type the substance, tick a reaction.
    await tabTo(page, focusedButton('Add'), 'Add allergy');
    await page.keyboard.press('Enter');
    await tabTo(page, focusedLabel('What are you allergic to?'), 'allergy substance');
    await page.keyboard.type('penicillin');
    await tabTo(page, focusedLabel('Rash'), 'Rash');
    await page.keyboard.press('Space');
    for (let i = 0; i < 3; i++) {
      await tabTo(page, focusedButton('Next'), 'Next');
      await page.keyboard.press('Enter');
    }
    // Habits: radio group by arrow keys.
    await tabTo(page, focusedLabel('Every day'), 'smoking radios');
    for (let i = 0; i < 3; i++) await page.keyboard.press('ArrowDown');
    assert.equal(await page.getByLabel('Never').first().isChecked(), true);
    await tabTo(page, focusedButton('Next'), 'Next');
    await page.keyboard.press('Enter');
    await tabTo(page, focusedButton('Next'), 'Next');
    await page.keyboard.press('Enter');
    await tabTo(page, focusedButton('Send my answers'), 'Send my answers');
    await page.keyboard.press('Enter');
    const bundle = await submittedBundle(page);
    await printJourney(page, 'Sam, new patient, keyboard only');
    const allergy = resources(bundle, 'AllergyIntolerance')[0];
    assert.equal(allergy?.code?.coding?.[0]?.code, '764146007', 'typed "penicillin" is coded');
    assert.equal(allergy.reaction[0].manifestation[0].coding[0].code, '271807003');
    const patient = resources(bundle, 'Patient')[0];
    assert.ok(patient.telecom.some((t) => t.system === 'email' && t.value === 'sam.okafor@example.com'));
    const put = bundle.entry.find((e) => e.resource.resourceType === 'Patient').request;
    assert.deepEqual([put.method, put.url, put.ifMatch], ['PUT', 'Patient/sam-okafor', 'W/"3"']);
    assert.deepEqual(problems, []);
    await context.close();
  });
});

describe('never lose an answer', () => {
  it('resumes after a reload with the same answers and page, and keeps text not valid yet', async () => {
    const { page, problems, context } = await openPage(browser);
    await startDemo(page, server.url, 'hypertension-follow-up', 'maria-hernandez');
    await question(page, 'Do you check your blood pressure at home?').getByLabel('Yes').check();
    await type(page.getByLabel(/Top number/), '131');
    await type(page.getByLabel(/Bottom number/), '79');
    await question(page, 'Do you feel dizzy').getByLabel('No').check();
    await next(page);
    await page.locator('fieldset.ik-row', { hasText: 'lisinopril' }).getByLabel('Yes, still correct').check();
    await page.reload();
    await page.getByRole('heading', { name: 'Medications' }).waitFor();
    await page.getByText('We restored the answers you already gave.').waitFor();
    assert.equal(await page.locator('fieldset.ik-row', { hasText: 'lisinopril' }).getByLabel('Yes, still correct').isChecked(), true);
    await page.getByRole('button', { name: 'Back' }).click();
    assert.equal(await page.getByLabel(/Top number/).inputValue(), '131');
    assert.equal(await question(page, 'Do you feel dizzy').getByLabel('No').isChecked(), true);
    // The measurement date is a native date picker (recent, exact to the day).
    assert.equal(await page.getByLabel(/When did you take it/).getAttribute('type'), 'date');
    // Text that is not a valid number yet is kept as typed, with one message, across a reload.
    await type(page.getByLabel(/Bottom number/), '7O');
    await page.locator('.ik-error', { hasText: 'Please enter a whole number' }).waitFor();
    assert.equal(await question(page, 'Bottom number').locator('.ik-error').count(), 1, 'one message per problem');
    await page.reload();
    await page.getByRole('heading', { name: 'About this visit' }).waitFor();
    assert.equal(await page.getByLabel(/Bottom number/).inputValue(), '7O');
    assert.equal(await page.getByLabel(/Top number/).inputValue(), '131');
    assert.deepEqual(problems, []);
    await context.close();
  });

  it('a double click and a retry submit one Bundle identifier', async () => {
    const { page, problems, context } = await openPage(browser);
    await startDemo(page, server.url, 'new-patient-adult', 'sam-okafor');
    await next(page);
    await type(page.getByLabel(/What brings you in/), 'Check-up');
    for (let i = 0; i < 4; i++) await next(page);
    await question(page, 'Do you smoke tobacco?').getByLabel('Never').check();
    await next(page);
    await next(page);
    await page.getByRole('button', { name: 'Send my answers' }).dblclick();
    await submittedBundle(page);
    await page.evaluate(() => window.intakeForm.submit());
    const ids = await page.evaluate(() => window.intakeSubmissions.map((b) => b.identifier.value));
    assert.ok(ids.length >= 2, `expected a retry to be delivered again, got ${ids.length}`);
    assert.equal(new Set(ids).size, 1, `one Bundle identifier, got ${ids}`);
    // The host confirmed: the saved answers are cleared, so a reload starts afresh instead of
    // offering the sent answers again (`keepAfterSubmit: true` keeps them; see pkg.test.mjs).
    await page.reload();
    await page.locator('.ik-page h3').first().waitFor();
    assert.equal(await page.getByText('We restored the answers you already gave.').count(), 0);
    assert.equal(await page.getByRole('heading', { name: 'Thank you' }).count(), 0);
    assert.deepEqual(problems, []);
    await context.close();
  });
});

describe('hostile questionnaire text', () => {
  it('stays inert: no script, no handler, no javascript: link; typed text is text', async () => {
    // CSP is bypassed on purpose: the rendering itself must be safe, not only the host's CSP.
    const { page, problems, context } = await openPage(browser, { bypassCSP: true });
    await page.goto(server.url);
    await page.waitForSelector('body[data-ready=true]');
    await page.evaluate(async () => {
      const m = await import('./pkg/intake_web.js');
      await m.default();
      const x = (v) => [{ url: 'http://hl7.org/fhir/StructureDefinition/rendering-xhtml', valueString: v }];
      const q = {
        resourceType: 'Questionnaire', status: 'active', title: '<img src=x onerror="window.__pwned=1">Title',
        item: [
          { linkId: 'a', type: 'string', text: '<script>window.__pwned=2</script>plain <b onclick="window.__pwned=3">bold</b>',
            _text: { extension: x('<div>Hello <script>window.__pwned=4</script><img src="x" onerror="window.__pwned=5"/><b onmouseover="window.__pwned=6">b</b> <a href="javascript:window.__pwned=7">click</a> <a href="https://example.org">ok</a></div>') } },
          { linkId: 'b', type: 'choice', text: 'Pick', answerOption: [{ valueString: '<img src=y onerror="window.__pwned=8">one' }, { valueString: 'two' }] },
          { linkId: 'c', type: 'display', text: 'note', _text: { extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/rendering-markdown', valueString: '[go](javascript:window.__pwned=9) **strong**' }] } },
        ],
      };
      const chart = { resourceType: 'Patient', id: 'p', name: [{ family: 'Test' }], birthDate: '1990-01-01' };
      document.querySelector('#start').hidden = true;
      const host = document.createElement('div');
      host.id = 'hostile';
      document.querySelector('main').append(host);
      window.hostile = m.mount(host, { questionnaire: q, chart, storage: false });
    });
    const field = page.locator('#hostile input[type=text]').first();
    await type(field, '<img src=z onerror="window.__pwned=10">');
    await page.locator('#hostile a', { hasText: 'click' }).count().then((n) => assert.equal(n, 0, 'javascript: link must not be a link'));
    await page.locator('#hostile b, #hostile strong').first().hover();
    await page.waitForTimeout(300);
    assert.equal(await page.evaluate(() => window.__pwned), undefined);
    const bad = await page.evaluate(() => {
      const root = document.querySelector('#hostile');
      const all = [...root.querySelectorAll('*')];
      return {
        scripts: root.querySelectorAll('script, img, iframe').length,
        handlers: all.filter((e) => [...e.attributes].some((a) => a.name.startsWith('on'))).length,
        jsLinks: root.querySelectorAll('a[href^="javascript" i]').length,
        safeLinks: [...root.querySelectorAll('a')].map((a) => [a.href, a.rel]),
      };
    });
    assert.deepEqual([bad.scripts, bad.handlers, bad.jsLinks], [0, 0, 0]);
    assert.deepEqual(bad.safeLinks, [['https://example.org/', 'noopener noreferrer']]);
    assert.equal(await field.inputValue(), '<img src=z onerror="window.__pwned=10">', 'typed text kept as text');
    assert.deepEqual(problems, []);
    await context.close();
  });
});

describe('every visit type at phone and desktop size', () => {
  for (const [vt, patient] of [['hypertension-follow-up', 'maria-hernandez'], ['pediatric-sick-visit', 'leo-hernandez'], ['new-patient-adult', 'sam-okafor']]) {
    it(`${vt}: usable at 360x640, 390x844 and 1280x800, no axe violations, 44px targets, screenshots`, async () => {
      for (const [w, h] of [[360, 640], [390, 844], [1280, 800]]) {
        const { page, problems, context } = await openPage(browser, { width: w, height: h, bypassCSP: true });
        await startDemo(page, server.url, vt, patient);
        await noAxeViolations(page, `${vt} at ${w}x${h}`);
        // Nothing wider than the screen at phone size.
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        assert.ok(overflow <= 0, `${vt} overflows horizontally by ${overflow}px at ${w}x${h}`);
        // Every tap target of the form is at least 44x44 CSS px: buttons, links, fields, and
        // each choice's row (the label that the radio or checkbox belongs to).
        const small = await page.evaluate(() => {
          const targets = [...document.querySelectorAll('.ik button, .ik a, .ik input[type=text], .ik input[type=tel], .ik input[type=email], .ik select, .ik textarea, .ik .ik-option')];
          return targets
            .filter((e) => e.offsetParent !== null)
            .map((e) => ({ what: `${e.tagName.toLowerCase()}.${e.className} "${e.textContent.trim().slice(0, 30)}"`, r: e.getBoundingClientRect() }))
            .filter(({ r }) => r.width < 44 || r.height < 44)
            .map(({ what, r }) => `${what} ${Math.round(r.width)}x${Math.round(r.height)}`);
        });
        assert.deepEqual(small, [], `${vt} at ${w}x${h}: targets under 44px`);
        await shot(page, `${vt}-${w}x${h}`);
        assert.deepEqual(problems, []);
        await context.close();
      }
    });
  }
});

describe('the demo page loads the build its visit type needs', () => {
  it('the rules build for this project\'s visit types, and the one catalog.json names otherwise', async () => {
    const wasm = (page) => page.evaluate(() => performance.getEntriesByType('resource').map((e) => e.name.split('/').pop()).filter((n) => n.endsWith('.wasm')));
    // As built: every visit type here has rules and no FHIRPath expression.
    let { page, problems, context } = await openPage(browser);
    await startDemo(page, server.url, 'hypertension-follow-up', 'maria-hernandez');
    assert.deepEqual(await wasm(page), ['intake_rules_bg.wasm']);
    assert.deepEqual(problems, []);
    await context.close();
    // A catalog that names the full build for it (as `intake catalog` does once the form has an
    // expression): the page loads that build and the form runs on it.
    ({ page, problems, context } = await openPage(browser));
    await page.route(/catalog\.json$/, async (route) => {
      const catalog = await (await route.fetch()).json();
      for (const t of catalog.visitTypes) if (t.id === 'hypertension-follow-up') t.build = 'full';
      await route.fulfill({ json: catalog });
    });
    await startDemo(page, server.url, 'hypertension-follow-up', 'maria-hernandez');
    assert.ok((await wasm(page)).includes('intake_web_bg.wasm'), 'the full build was fetched');
    assert.ok(await page.locator('.ik-page h3').first().isVisible());
    assert.deepEqual(problems, []);
    await context.close();
  });
});

describe('bad input gets a clear error, never a blank page', () => {
  it('a malformed Questionnaire shows where the problem is', async () => {
    const { page, context } = await openPage(browser);
    await page.goto(server.url);
    await page.waitForSelector('body[data-ready=true]');
    const message = await page.evaluate(async () => {
      const m = await import('./pkg/intake_web.js');
      await m.default();
      const host = document.createElement('div');
      document.querySelector('main').append(host);
      try {
        m.mount(host, { questionnaire: { resourceType: 'Questionnaire', item: [{ linkId: 'a', type: 'boolean', required: 12 }] }, chart: { resourceType: 'Patient', id: 'p' }, storage: false });
        return 'no error';
      } catch (e) {
        return `${e.message}\n---\n${host.textContent}`;
      }
    });
    const [technical, patientSees] = message.split('\n---\n');
    assert.match(technical, /Questionnaire\.item\[0\]\.required/, 'the host gets the path');
    assert.match(patientSees, /This form cannot be shown.*please contact your clinic/is);
    assert.doesNotMatch(patientSees, /Questionnaire|item\[|required/, 'the patient never sees developer text');
    await context.close();
  });
});

describe('a page that mounts form after form', () => {
  // The demo switches visit types in one wasm instance; so may a portal that uses the module
  // directly. An unmounted form must give back its memory: each MDS 3.0 mount kept about 4 MB
  // (the view's handle on the session was never freed) until the page ran out.
  it('gives back what an unmounted form held', async () => {
    const { readFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { ROOT } = await import('./lib.mjs');
    const q = JSON.parse(readFileSync(join(ROOT, '..', 'shared', 'corpus', 'questionnaires', 'fhirpath.js', 'Minimum-Data-Set---version-3.0.R4.json'), 'utf8'));
    const { page, context } = await openPage(browser);
    await page.goto(server.url);
    await page.waitForSelector('body[data-ready=true]');
    const mb = await page.evaluate(async (q) => {
      const m = await import('./pkg/intake_web.js');
      const wasm = await m.default();
      const sizes = [];
      for (let i = 0; i < 8; i++) {
        const host = document.createElement('div');
        document.body.append(host);
        const form = m.mount(host, { questionnaire: q, chart: { resourceType: 'Patient', id: 'p' }, storage: false, now: '2026-11-20T09:00:00Z' });
        await new Promise((r) => setTimeout(r, 20));
        if (!host.querySelector('.ik-q')) throw new Error('the form did not render');
        form.unmount();
        form.free();
        host.remove();
        sizes.push(wasm.memory.buffer.byteLength / 2 ** 20);
      }
      return sizes;
    }, q);
    // Memory grows to what one form needs, then stays (wasm memory never shrinks; freed memory
    // is reused). Six more mounts after the second may not add a form's worth.
    assert.ok(mb[7] - mb[1] < 3, `wasm memory after each mount and unmount (MB): ${mb.map((x) => x.toFixed(0)).join(' ')}`);
    await context.close();
  });
});
