// The demo host page: a portal would do the same with its own chart and visit types.

// Each visit type runs on the smallest build of the module that has what it carries: the rules
// engine, FHIRPath, both or neither (pkg/README.md, "Four builds"); catalog.json names it
// (`intake catalog`). This project's visit types all take the rules build, so the page starts
// loading that one at once (index.html preloads it) and loads another only if a visit type
// needs it.
const GLUE = {
  full: () => import('./pkg/intake_web.js'),
  rules: () => import('./pkg/intake_rules.js'),
  sdc: () => import('./pkg/intake_sdc.js'),
  basic: () => import('./pkg/intake_basic.js'),
};
const FIRST_BUILD = 'rules';
const modules = {};
/** The glue of `build`, its wasm fetched, compiled and initialised (once per page). */
const moduleFor = (build) => (modules[build] ??= (GLUE[build] ?? GLUE.full)().then(async (m) => {
  await m.default();
  warmUp(m);
  return m;
}));

/** While the patient picks a visit, have the browser compile the form's code (one step of the
 * module's warm-up per idle period; pkg/index.js does the same after `init`). */
function warmUp(m) {
  const idle = window.requestIdleCallback ?? ((f) => setTimeout(f, 50));
  const next = () => idle(() => { if (m.warmUp()) next(); });
  next();
}

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);

// Who answers, and why they come, per demo patient (a portal knows this from scheduling).
const CONTEXT = {
  'maria-hernandez': { reasons: ['bp-follow-up'] },
  'leo-hernandez': { reasons: ['sick-visit'], respondent: { relationship: 'MTH', name: 'Ana Hernández', reference: 'RelatedPerson/leo-mother' } },
  'sam-okafor': { reasons: ['new-patient'] },
};
const DEFAULT_PATIENT = { 'hypertension-follow-up': 'maria-hernandez', 'pediatric-sick-visit': 'leo-hernandez', 'new-patient-adult': 'sam-okafor', 'diabetes-follow-up': 'maria-hernandez' };

let form = null;

function option(select, value, label) {
  const o = document.createElement('option');
  o.value = value;
  o.textContent = label;
  select.append(o);
}

function show(bundle, qr) {
  const text = (v) => JSON.stringify(v, null, 2);
  $('bundle').textContent = text(bundle);
  $('qr').textContent = text(qr);
  $('dl-bundle').href = URL.createObjectURL(new Blob([text(bundle)], { type: 'application/fhir+json' }));
  $('dl-qr').href = URL.createObjectURL(new Blob([text(qr)], { type: 'application/fhir+json' }));
  $('result').hidden = false;
}

const getJson = async (file) => {
  const r = await fetch(file);
  if (!r.ok) throw new Error(`${file}: ${r.status} ${r.statusText}`);
  return r.json();
};

// The host loads the visit type and the chart; the form itself makes no request.
const loadData = (visitType, patient) => Promise.all([
  getJson(`visit-types/${encodeURIComponent(visitType)}.json`),
  getJson(`charts/${encodeURIComponent(patient)}.json`),
]);

async function start(visitType, patient, lang, prefetched) {
  $('start').hidden = true;
  $('form-area').hidden = false;
  $('load-error').hidden = true;
  const host = $('intake');
  try {
    const build = types.find((t) => t.id === visitType)?.build ?? 'full';
    const [[vt, chart], { mount }] = await Promise.all([prefetched || loadData(visitType, patient), moduleFor(build)]);
    performance.mark('intake:data-ready');
    form = mount(host, {
      visitType: vt,
      chart,
      locale: lang,
      context: CONTEXT[patient] || {},
      // A real portal POSTs the Bundle to its FHIR server here and returns that Promise: the
      // patient is told "sent" only when it resolves. The demo has no server: it waits briefly.
      onSubmit: (bundle, qr) => {
        (window.intakeSubmissions ||= []).push(bundle);
        return new Promise((resolve) => setTimeout(() => { show(bundle, qr); resolve(); }, 150));
      },
      onError: (e) => console.warn('intake:', e),
    });
    window.intakeForm = form;
    performance.mark('intake:mounted');
  } catch (e) {
    // mount() also shows the error in the element; keep the landing page usable.
    $('load-error').textContent = String(e.message || e);
    $('load-error').hidden = false;
  }
  const url = new URL(location.href);
  url.search = new URLSearchParams({ visitType, patient, lang }).toString();
  history.replaceState(null, '', url);
}

// A deep link names the visit type and patient: fetch them while the wasm compiles.
const vt = params.get('visitType');
const pt = params.get('patient');
const prefetched = vt && pt ? loadData(vt, pt) : null;
prefetched?.catch(() => {});
const [, catalog] = await Promise.all([moduleFor(FIRST_BUILD).then(() => performance.mark('intake:wasm-ready')), getJson('catalog.json')]);
const types = catalog.visitTypes;
const charts = catalog.charts;
for (const t of types) option($('visit-type'), t.id, t.title);
for (const c of charts) option($('patient'), c.id, `${c.name} (born ${c.birthDate})`);

const lang = params.get('lang') || (navigator.language || 'en').slice(0, 2);
$('lang').value = lang === 'es' ? 'es' : 'en';
$('visit-type').addEventListener('change', () => { $('patient').value = DEFAULT_PATIENT[$('visit-type').value] || $('patient').value; });
if (vt) $('visit-type').value = vt;
$('patient').value = pt || DEFAULT_PATIENT[$('visit-type').value] || charts[0]?.id;

$('start-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  start($('visit-type').value, $('patient').value, $('lang').value);
});
$('restart').addEventListener('click', () => {
  if (form) { form.clearSaved(); form.unmount(); form = null; }
  $('result').hidden = true;
  $('form-area').hidden = true;
  $('start').hidden = false;
  history.replaceState(null, '', location.pathname);
});
if (vt && pt) start(vt, pt, $('lang').value, prefetched);
document.body.dataset.ready = 'true';
