// intake preview: the form as a portal mounts it (the npm package's `mount`), beside what
// `intake check` and `intake explain` say about the same files, chart and answers. The server
// answers /api/state when a project file changes (a long poll); the page then remounts the
// form, and the answers come back through the form's own autosave restore.
import { mount } from '/pkg/index.js';

const $ = (id) => document.getElementById(id);
const enc = encodeURIComponent;
const params = new URLSearchParams(location.search);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let fingerprint = null;
let initialized = false; // the picks were set from the URL and the visit type's defaults
let last = null; // the last /api/state answer
let mountedKey = null; // what the mounted form was built from
let handle = null;
let queue = Promise.resolve(); // remounts run one at a time, in order
let explainSeq = 0;
let explainTimer = null;
const devSeen = new Set();

// The answers live in sessionStorage under the form's autosave key: a remount after an edit
// restores them exactly as a patient's reload would, and so does reloading this tab.
const storage = {
  getItem: (k) => sessionStorage.getItem(k),
  setItem: (k, v) => { sessionStorage.setItem(k, v); scheduleExplain(); },
  removeItem: (k) => { sessionStorage.removeItem(k); },
};

function selection() {
  const reasons = $('reasons').value.split(',').map((r) => r.trim()).filter(Boolean);
  return { visitType: $('visit-type').value, chart: $('chart').value, language: $('lang').value, reasons, respondent: $('respondent').value, now: $('now').value.trim() };
}

const storageKey = (sel) => `intake-preview:${sel.visitType}:${sel.chart}`;

function context(sel) {
  const c = { language: sel.language };
  if (sel.reasons.length) c.reasons = sel.reasons;
  c.respondent = sel.respondent === 'proxy' ? { relationship: 'PRN' } : 'patient';
  return c;
}

function snapshot(sel) {
  const text = sessionStorage.getItem(storageKey(sel));
  try { return text ? JSON.parse(text) : null; } catch { return null; }
}

const request = (sel) => ({ visitType: sel.visitType, chart: sel.chart, context: context(sel), now: sel.now, snapshot: snapshot(sel) });

async function getJson(url, init) {
  const r = await fetch(url, init);
  const j = await r.json().catch(() => ({ error: `${r.status} ${r.statusText}` }));
  return { ok: r.ok, status: r.status, body: j };
}

function live(text) { $('live').textContent = text; }
const clock = () => new Date().toLocaleTimeString();

function dev(message) {
  if (devSeen.has(message)) return;
  devSeen.add(message);
  const li = document.createElement('li');
  li.textContent = message;
  $('dev').prepend(li);
}

function fillSelect(select, items, wanted) {
  const same = select.options.length === items.length && items.every((it, i) => select.options[i].value === it.id && select.options[i].textContent === it.label);
  if (!same) {
    select.replaceChildren(...items.map((it) => {
      const o = document.createElement('option');
      o.value = it.id;
      o.textContent = it.label;
      o.disabled = Boolean(it.disabled);
      return o;
    }));
  }
  if (wanted !== undefined && items.some((it) => it.id === wanted)) select.value = wanted;
}

function showDiagnostics(vt) {
  const ds = vt?.diagnostics || [];
  const errors = ds.filter((d) => d.severity === 'error').length;
  const warnings = ds.length - errors;
  const list = $('diagnostics');
  list.replaceChildren(...ds.map((d) => {
    const li = document.createElement('li');
    li.className = d.severity === 'error' ? 'pv-error' : 'pv-warning';
    li.textContent = d.text;
    return li;
  }));
  const broken = vt && !vt.entry;
  $('check').classList.toggle('pv-failed', errors > 0);
  $('check').setAttribute('role', errors > 0 ? 'alert' : 'region');
  const counts = `${errors} error${errors === 1 ? '' : 's'}, ${warnings} warning${warnings === 1 ? '' : 's'}`;
  $('check-summary').textContent = ds.length === 0
    ? 'No errors or warnings.'
    : broken ? `${counts}: the visit type does not load; the form shows the last version that did.` : `${counts}.`;
}

// Apply a state answer: lists, diagnostics, and a remount if the visit type or the pick changed.
async function apply(state, changed) {
  last = state;
  const vt = state.visitType;
  fillSelect($('visit-type'), state.visitTypes.map((t) => ({ id: t.id, label: `${t.title} (${t.id})` })), initialized ? undefined : (params.get('visitType') || state.defaults.visitType));
  if (!vt || vt.id !== $('visit-type').value) return refresh(); // answered for an earlier pick
  const first = !initialized;
  initialized = true;
  const fits = new Set(vt.fittingCharts || []);
  const charts = state.charts.map((c) => ({ id: c.id, label: c.error ? c.label : fits.has(c.id) || !vt.entry ? c.label : `${c.label} (not for this visit type)`, disabled: Boolean(c.error) }));
  const wantChart = first ? (params.get('chart') || state.defaults.chart || vt.fittingCharts?.[0]) : ($('chart').value || vt.fittingCharts?.[0]);
  fillSelect($('chart'), charts, wantChart);
  $('known-reasons').replaceChildren(...(vt.reasons || []).map((r) => Object.assign(document.createElement('option'), { value: r })));
  if (first) {
    $('lang').value = params.get('lang') === 'es' ? 'es' : 'en';
    $('reasons').value = params.get('reasons') ?? (vt.reasons || [])[0] ?? '';
    $('respondent').value = vt.respondent === 'proxy' ? 'proxy' : 'patient';
    $('now').value = params.get('now') || new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  }
  showDiagnostics(vt);
  const sel = selection();
  if (vt.entry) {
    const key = JSON.stringify([vt.entry, sel]);
    if (key !== mountedKey) {
      mountedKey = key;
      queue = queue.then(() => remount(vt.entry, sel, changed));
      await queue;
      return;
    }
    if (changed) live(`${clock()}: files changed; the form is unchanged.`);
  } else if (changed || first) {
    live(`${clock()}: ${vt.id} does not load (see Check); the form is kept as it was, with its answers.`);
    if (!handle) note('This visit type does not load yet: the Check panel says why.');
  }
  scheduleExplain();
}

function note(text) {
  $('form-note').textContent = text;
  $('form-note').hidden = !text;
}

async function remount(entry, sel, changed) {
  const chart = await getJson(`/api/chart?id=${enc(sel.chart)}`);
  if (!chart.ok) { note(`The chart cannot be read: ${chart.body.error}`); return; }
  const y = window.scrollY;
  if (handle) { handle.unmount(); handle = null; }
  note('');
  try {
    handle = await mount($('intake'), {
      visitType: entry,
      chart: chart.body,
      locale: sel.language,
      context: context(sel),
      now: sel.now,
      storage,
      storageKey: storageKey(sel),
      keepAfterSubmit: true,
      onError: (e) => dev(e.message),
      onSubmit: (bundle) => {
        $('bundle').textContent = JSON.stringify(bundle, null, 2);
        $('sent').hidden = false;
      },
    });
    window.scrollTo(0, y);
    if (changed) live(`${clock()}: files changed; the form was reloaded with the answers kept.`);
  } catch (e) {
    note(`The form cannot start: ${e.message}`);
  }
  document.body.dataset.mounts = String(Number(document.body.dataset.mounts || 0) + 1);
  scheduleExplain();
}

function scheduleExplain() {
  clearTimeout(explainTimer);
  explainTimer = setTimeout(explain, 150);
}

async function explain() {
  const seq = ++explainSeq;
  const r = await getJson('/api/explain', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(request(selection())) });
  if (seq !== explainSeq) return; // a newer one is on its way
  if (!r.ok) {
    const kept = $('explain').textContent.replace(/^\(out of date[^\n]*\n/, '');
    $('explain').textContent = `(out of date: ${r.body.error})\n${kept}`;
    return;
  }
  $('explain').textContent = r.body.text;
  for (const p of r.body.problems || []) dev(p);
}

async function refresh() {
  const r = await getJson(`/api/state?visitType=${enc($('visit-type').value)}`);
  if (r.ok) { fingerprint = r.body.fingerprint; await apply(r.body, false); }
}

async function watch() {
  for (;;) {
    try {
      const r = await getJson(`/api/state?visitType=${enc($('visit-type').value)}&since=${enc(fingerprint ?? '')}`);
      if (!r.ok) throw new Error(r.body.error);
      const changed = fingerprint !== null && r.body.fingerprint !== fingerprint;
      fingerprint = r.body.fingerprint;
      await apply(r.body, changed);
      document.body.dataset.fingerprint = fingerprint;
    } catch (e) {
      live(`The preview server does not answer (${e.message}); retrying…`);
      await sleep(1000);
    }
  }
}

$('pick').addEventListener('submit', (ev) => ev.preventDefault());
$('visit-type').addEventListener('change', () => {
  // A new visit type starts from its own defaults: its first reason, its respondent, a chart it fits.
  $('reasons').value = '';
  getJson(`/api/state?visitType=${enc($('visit-type').value)}`).then((r) => {
    const vt = r.body.visitType;
    if (!vt) return;
    $('reasons').value = (vt.reasons || [])[0] ?? '';
    $('respondent').value = vt.respondent === 'proxy' ? 'proxy' : 'patient';
    if (vt.fittingCharts?.length && !vt.fittingCharts.includes($('chart').value)) $('chart').value = vt.fittingCharts[0];
    fingerprint = r.body.fingerprint;
    return apply(r.body, false);
  });
});
for (const id of ['chart', 'lang', 'reasons', 'respondent', 'now']) $(id).addEventListener('change', () => last && apply(last, false));
$('clear').addEventListener('click', () => {
  sessionStorage.removeItem(storageKey(selection()));
  mountedKey = null;
  if (last) apply(last, false);
});
$('scenario-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const body = { ...request(selection()), name: $('scenario-name').value.trim(), description: $('scenario-description').value };
  $('scenario-result').textContent = 'Saving…';
  const r = await getJson('/api/scenario', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (!r.ok) {
    $('scenario-result').textContent = `Not saved: ${r.body.error}`;
    return;
  }
  $('scenario-result').textContent = `Saved ${r.body.path}. intake test on it: ${r.body.test}. Trim the expectations to what the scenario is about.`;
  $('scenario-json').textContent = JSON.stringify(r.body.scenario, null, 2);
  $('scenario-details').hidden = false;
});

await refresh();
document.body.dataset.ready = 'true';
watch();
