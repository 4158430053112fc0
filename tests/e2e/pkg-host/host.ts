// Type-checked in CI against the package's declarations (tsc --noEmit).
import { createSession, mount, type Bundle, type IntakeHandle, type MountOptions, type VisitType } from '@intake-engine/intake';
import type { IntakeFormElement } from '@intake-engine/intake/element';

declare const visitType: VisitType;
declare const chart: { resourceType: 'Bundle'; type: 'searchset' };

async function portal(): Promise<Bundle> {
  const options: MountOptions = {
    visitType,
    chart,
    locale: 'es',
    subject: 'Patient/123',
    storage: { getItem: (k) => sessionStorage.getItem(k), setItem: (k, v) => sessionStorage.setItem(k, v), removeItem: (k) => sessionStorage.removeItem(k) },
    context: { reasons: ['bp-follow-up'], respondent: { relationship: 'MTH', name: 'Ana' } },
    onChange: (qr) => console.log(qr.status),
    onSubmit: (bundle, qr) => console.log(bundle.identifier?.value, qr.subject?.reference),
    onError: (e) => console.error(e.message),
  };
  const form: IntakeHandle = await mount(document.body, options);
  const el: IntakeFormElement = document.createElement('intake-form');
  el.chart = chart;
  el.visitType = visitType;
  el.addEventListener('intake-submit', (e) => console.log(e.detail.bundle?.type));
  el.addEventListener('intake-error', (e) => console.log(e.detail.message));
  const s = await createSession({ visitType, chart });
  for (const item of s.items()) if (item.shown && item.required && item.answers.length === 0) console.log(item.key, item.reason);
  s.answer('home-bp-systolic', 142);
  s.answer('weight', { value: 180, unit: '[lb_av]' });
  // A bare Questionnaire with no chart: no write-back Bundle, so onSubmit may get null.
  const bare = await mount(document.body, {
    questionnaire: { resourceType: 'Questionnaire', status: 'active', item: [{ linkId: 'a', type: 'string' }] },
    onSubmit: (bundle, qr) => console.log(bundle?.type ?? 'no chart', qr.status),
    valueSets: [{ resourceType: 'ValueSet', url: 'http://example.org/vs' }],
    expandValueSet: async ({ url, filter }) => ({ resourceType: 'ValueSet', url, expansion: { contains: [{ code: filter }] } }),
  });
  const maybe: Bundle | null = await bare.submit();
  console.log(maybe);
  return form.submit();
}
void portal;
