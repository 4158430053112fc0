// Write-back against a real FHIR server: every scenario's transaction Bundle is POSTed to
// Medplum's FHIR router (in memory, see fhir-server.mjs) holding that scenario's chart.
// - every entry succeeds; no urn:uuid is left anywhere; every reference in what we wrote
//   resolves on the server (the server itself does not check this);
// - the QuestionnaireResponse is retrievable and is the one we sent;
// - POSTing the very same Bundle again (a retried submit) changes nothing: no second
//   QuestionnaireResponse, no duplicate derived resource, the server's state is identical.
// Also: every emitted resource passes the npm `fhir` validator (required code bindings) with zero
// errors; fhirkit checks the same resources in `cargo test` (tests/tests/emitted_resources_are_valid_r4.rs).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './lib.mjs';
import { startFhirServer } from './fhir-server.mjs';

const { Fhir } = createRequire(import.meta.url)('fhir');

// Run the scenario suite and collect what each scenario produced.
const emitDir = mkdtempSync(join(tmpdir(), 'intake-emit-'));
const bin = process.env.INTAKE_BIN || join(ROOT, 'target', 'debug', 'intake');
execFileSync(bin, ['test', '--emit', emitDir], { cwd: ROOT, stdio: 'pipe' });
const scenarios = readdirSync(emitDir)
  .sort()
  .map((f) => ({ file: f.replace(/\.json$/, ''), ...JSON.parse(readFileSync(join(emitDir, f), 'utf8')) }));
const withBundle = scenarios.filter((s) => s.bundle);

let server;
const figures = { scenarios: 0, entries: 0, created: 0, updated: 0, retried: 0, retryUpdates412: 0 };

before(async () => {
  server = await startFhirServer();
});

after(async () => {
  await server?.stop();
  console.log(
    `# FHIR server (Medplum ${'4.5.2'} router, in memory): ${figures.scenarios} scenario Bundles accepted ` +
      `(${figures.entries} entries: ${figures.created} created, ${figures.updated} updated); ` +
      `${figures.retried} retried with no new resource and identical server state ` +
      `(${figures.retryUpdates412} retried updates answered 412: already applied); ` +
      `${figures.templateBundles || 0} template-extracted Bundles accepted and retried without duplicates`,
  );
});

async function fhir(method, path, body) {
  const res = await fetch(`${server.url}/${path}`, {
    method,
    headers: { 'content-type': 'application/fhir+json', accept: 'application/fhir+json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

/** The chart's resources, as the EHR holds them (ids and versions kept: the Bundle's If-Match refers to them). */
function chartResources(chart) {
  if (chart.resourceType !== 'Bundle') return [chart];
  return (chart.entry || []).map((e) => e.resource).filter(Boolean);
}

/** Everything on the server, as { 'Type/id': resource } (behind the REST API: the repository's own map). */
function serverState() {
  const out = {};
  for (const [type, byId] of server.repo.resources) for (const [id, r] of byId) out[`${type}/${id}`] = r;
  return out;
}

/** Every `reference` string in a resource (not inside contained resources: those are local). */
function references(node, out = []) {
  if (Array.isArray(node)) node.forEach((n) => references(n, out));
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === 'contained') continue;
      if (k === 'reference' && typeof v === 'string') out.push(v);
      else references(v, out);
    }
  }
  return out;
}

describe('write-back Bundles on a FHIR server', () => {
  it('the scenario suite produced Bundles to post', () => {
    assert.ok(withBundle.length >= 12, `only ${withBundle.length} scenarios produced a Bundle`);
  });

  for (const s of withBundle) {
    it(`${s.file}: accepted whole, references resolve, a retry changes nothing`, async () => {
      server.repo.clear();
      const chart = chartResources(s.chart);
      for (const r of chart) await server.repo.createResource(structuredClone(r));
      const before = serverState();

      // 1. The transaction: every entry succeeds.
      const first = await fhir('POST', '', s.bundle);
      assert.equal(first.status, 200, JSON.stringify(first.body).slice(0, 600));
      assert.equal(first.body.type, 'transaction-response');
      assert.equal(first.body.entry.length, s.bundle.entry.length);
      first.body.entry.forEach((e, i) => {
        const req = s.bundle.entry[i].request;
        assert.match(e.response.status, /^20[01]/, `entry ${i} (${req.method} ${req.url}): ${e.response.status} ${JSON.stringify(e.response.outcome ?? '')}`);
        if (req.method === 'POST') assert.match(e.response.status, /^201/, `entry ${i} ${req.url}: a first submit creates`);
      });
      figures.scenarios++;
      figures.entries += s.bundle.entry.length;

      // 2. What we wrote is on the server, with no urn:uuid left and every reference resolving.
      const after1 = serverState();
      const written = Object.keys(after1).filter((k) => JSON.stringify(after1[k]) !== JSON.stringify(before[k]));
      figures.created += written.filter((k) => !(k in before)).length;
      figures.updated += written.filter((k) => k in before).length;
      assert.equal(written.length, s.bundle.entry.length, `each entry wrote one resource: ${written.join(', ')}`);
      for (const key of written) {
        const chartCopy = JSON.stringify(before[key] ?? {});
        for (const ref of references(after1[key])) {
          assert.ok(!ref.startsWith('urn:uuid:'), `${key}: unresolved ${ref}`);
          if (ref.startsWith('#') || /^https?:/.test(ref)) continue;
          // A reference the chart's own copy already held is the EHR's business, not ours.
          if (chartCopy.includes(JSON.stringify(ref))) continue;
          assert.ok(ref in after1, `${key} refers to ${ref}, which is not on the server`);
        }
      }

      // 3. The QuestionnaireResponse is retrievable and is ours.
      const qrEntry = s.bundle.entry.findIndex((e) => e.resource?.resourceType === 'QuestionnaireResponse');
      assert.ok(qrEntry >= 0, 'the Bundle carries the QuestionnaireResponse');
      const location = first.body.entry[qrEntry].response.location;
      const qr = await fhir('GET', location.replace(/\/_history\/.*$/, ''));
      assert.equal(qr.status, 200);
      assert.deepEqual(qr.body.item, s.bundle.entry[qrEntry].resource.item);
      assert.deepEqual(qr.body.identifier, s.bundle.entry[qrEntry].resource.identifier);
      const ident = qr.body.identifier;
      const byIdent = await fhir('GET', `QuestionnaireResponse?identifier=${encodeURIComponent(`${ident.system}|${ident.value}`)}`);
      assert.equal(byIdent.body.entry?.length, 1);

      // 4. A retried submit: the same Bundle again. Conditional creates find what the first one
      // made; an update's If-Match no longer matches (the first submit moved the version on),
      // which is the server saying "already applied". Nothing on the server changes.
      const second = await fhir('POST', '', s.bundle);
      second.body.entry?.forEach((e, i) => {
        const req = s.bundle.entry[i].request;
        if (req.method === 'POST') assert.match(e.response.status, /^200/, `retry, entry ${i} ${req.url}: ${e.response.status} (a duplicate?)`);
        if (req.method === 'PUT') {
          assert.match(e.response.status, /^(200|412)/, `retry, entry ${i} ${req.url}: ${e.response.status}`);
          if (e.response.status.startsWith('412')) figures.retryUpdates412++;
        }
      });
      const after2 = serverState();
      assert.deepEqual(Object.keys(after2).sort(), Object.keys(after1).sort(), 'no resource added or removed by the retry');
      for (const k of Object.keys(after1)) assert.deepEqual(after2[k], after1[k], `${k} changed on retry`);
      figures.retried++;
    });
  }
});

// Bundles from SDC template extraction (CSIRO's forms and responses, `intake extract`): the
// server accepts them whole, and a retry creates nothing twice. PATCH fixtures are left out:
// they patch chart resources the fixtures do not include.
const EXTRACTION = join(ROOT, '..', 'shared', 'corpus', 'extraction');
const templateBundles = readdirSync(join(EXTRACTION, 'extracted'))
  .map((f) => f.replace(/^extracted/, '').replace(/\.json$/, ''))
  .sort()
  .map((name) => {
    const run = spawnSync(bin, ['extract', join(EXTRACTION, 'questionnaires', `Q${name}.json`), join(EXTRACTION, 'questionnaireResponses', `QR${name}.json`), '--now', '2026-11-20T09:00:00Z'], { encoding: 'utf8' });
    return { name, bundle: JSON.parse(run.stdout), leftOut: run.stderr.trim() };
  })
  .filter((t) => t.bundle.entry.length > 0 && t.bundle.entry.every((e) => e.request.method !== 'PATCH'));

describe('template-extracted Bundles on the FHIR server', () => {
  it('there are some to post', () => assert.ok(templateBundles.length >= 6, templateBundles.map((t) => t.name).join(', ')));
  for (const t of templateBundles) {
    it(`${t.name}: accepted whole, retry creates nothing twice`, async () => {
      server.repo.clear();
      const first = await fhir('POST', '', t.bundle);
      assert.equal(first.status, 200, JSON.stringify(first.body).slice(0, 600));
      first.body.entry.forEach((e, i) => assert.match(e.response.status, /^20[01]/, `entry ${i}: ${e.response.status}`));
      const after1 = serverState();
      const second = await fhir('POST', '', t.bundle);
      assert.equal(second.status, 200);
      second.body.entry.forEach((e, i) => {
        if (t.bundle.entry[i].request.method === 'POST') assert.match(e.response.status, /^200/, `retry, entry ${i}: ${e.response.status}`);
      });
      const after2 = serverState();
      // PUT entries make a new version on retry (same content); nothing is added.
      assert.deepEqual(Object.keys(after2).sort(), Object.keys(after1).sort());
      figures.templateBundles = (figures.templateBundles || 0) + 1;
    });
  }
});

describe('independent validator: npm fhir (R4, required code bindings)', () => {
  const validator = new Fhir();
  const errorsOf = (r) => validator.validate(r, { errorOnUnexpected: true }).messages.filter((m) => m.severity === 'error');

  it('passes every QuestionnaireResponse and Bundle the scenarios produce with zero errors', () => {
    let n = 0;
    const problems = [];
    for (const s of scenarios) {
      for (const r of [s.response, s.bundle].filter(Boolean)) {
        n++;
        for (const e of errorsOf(r)) problems.push(`${s.file} ${r.resourceType}: ${e.location}: ${e.message}`);
      }
    }
    for (const t of templateBundles) {
      n++;
      for (const e of errorsOf(t.bundle)) problems.push(`template ${t.name}: ${e.location}: ${e.message}`);
    }
    assert.deepEqual(problems, []);
    assert.ok(n >= 28, `validated only ${n} resources`);
  });

  it('is not blind (a wrong code, a wrong type, an unknown element, an error inside an entry)', () => {
    assert.ok(errorsOf({ resourceType: 'QuestionnaireResponse', status: 'done' }).length > 0);
    assert.ok(errorsOf({ resourceType: 'Observation', status: 'final', code: { text: 'x' }, valueQuantity: { value: '12' } }).length > 0);
    assert.ok(errorsOf({ resourceType: 'Observation', status: 'final', code: { text: 'x' }, colour: 'red' }).length > 0);
    const entry = { resourceType: 'AllergyIntolerance', patient: { reference: 'Patient/1' }, criticality: 'very' };
    assert.ok(errorsOf({ resourceType: 'Bundle', type: 'transaction', entry: [{ resource: entry, request: { method: 'POST', url: 'AllergyIntolerance' } }] }).length > 0);
  });
});
