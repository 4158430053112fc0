// A portal with its own interface: drives the engine, renders nothing of ours.
import { createSession } from './node_modules/@intake-engine/intake/index.js';

const get = async (p) => (await fetch(p)).json();
const [vt, chart] = await Promise.all([get('data/hypertension-follow-up.json'), get('data/maria-hernandez.json')]);
const s = await createSession({ visitType: vt, chart, locale: 'en', now: '2026-11-20T09:00:00-05:00', sessionId: 'portal-1' });
const before = s.items().filter((i) => i.shown).map((i) => i.linkId);
const changed = s.answer('home-bp-monitoring', true);
const revealed = s.items().filter((i) => i.shown && !before.includes(i.linkId)).map((i) => ({ linkId: i.linkId, reason: i.reason }));
s.answer('home-bp-systolic', 142);
s.answer('home-bp-diastolic', 88);
s.answer('missed-doses', 0);
let blocked = null;
try { s.bundle(); } catch (e) { blocked = e.message; }
for (const row of s.items().filter((i) => i.linkId === 'medication.status' || i.linkId === 'allergy.status')) {
  s.answer(row.key, { system: 'http://intake-engine.org/fhir/CodeSystem/on-file-review', code: 'confirmed' });
}
const bundle = s.bundle();
document.getElementById('out').textContent = JSON.stringify({ changed, revealed, blocked, problemsAfter: s.problems(), bundle }, null, 2);
document.body.dataset.ready = 'true';
