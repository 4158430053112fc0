// A portal host: no framework. Loads its own visit types and charts, hands them to the form.
import { mount } from './node_modules/@intake-engine/intake/index.js';

const get = async (p) => (await fetch(p)).json();
const [htnVt, pedVt, newVt, maria, leo, sam] = await Promise.all([
  get('data/hypertension-follow-up.json'), get('data/pediatric-sick-visit.json'), get('data/new-patient-adult.json'),
  get('data/maria-hernandez.json'), get('data/leo-hernandez.json'), get('data/sam-okafor.json'),
]);
window.events = [];
for (const id of ['htn', 'ped']) {
  const el = document.getElementById(id);
  for (const type of ['intake-change', 'intake-submit', 'intake-error']) {
    el.addEventListener(type, (e) => window.events.push({ id, type, detail: e.detail }));
  }
}
const htn = document.getElementById('htn');
htn.visitType = htnVt;
htn.chart = maria;
htn.context = { reasons: ['bp-follow-up'] };
const ped = document.getElementById('ped');
ped.visitType = pedVt;
ped.chart = leo;
ped.context = { reasons: ['sick-visit'], respondent: { relationship: 'MTH', name: 'Ana Hernández', reference: 'RelatedPerson/leo-mother' } };
window.mounted = await mount(document.getElementById('mounted'), {
  visitType: newVt,
  chart: sam,
  locale: 'en',
  onSubmit: (bundle) => window.events.push({ id: 'mounted', type: 'submit', detail: bundle }),
  onError: (e) => window.events.push({ id: 'mounted', type: 'error', detail: e.message }),
});
window.data = { htnVt, pedVt, newVt, maria, leo, sam };
document.body.dataset.ready = 'true';
