// <intake-form>: the form as a custom element, in Shadow DOM, themable with CSS custom
// properties (--ik-accent, --ik-text, --ik-muted, --ik-error, --ik-bg, --ik-border, --ik-radius,
// --ik-font). Set objects as properties (visitType, questionnaire, manifest, rules, chart,
// context, storage, valueSets, and the expandValueSet function); strings as attributes (locale, subject, session-id, storage-key, now).
// Events (bubbling, composed): intake-change (detail: QuestionnaireResponse), intake-submit
// (detail: { bundle, response }), intake-error (detail: { message }), intake-urgent (detail:
// { advisories: [{ text, reason, rule }] }, whenever the urgent advisories change).
import { mount } from './index.js';

const CSS_URL = new URL('./dist/intake.css', import.meta.url).href;
const PROPS = ['visitType', 'questionnaire', 'manifest', 'rules', 'chart', 'context', 'storage', 'build', 'wasmUrl', 'sdcWasmUrl', 'rulesWasmUrl', 'basicWasmUrl', 'valueSets', 'expandValueSet'];
const ATTRS = { locale: 'locale', subject: 'subject', 'session-id': 'sessionId', 'storage-key': 'storageKey', now: 'now' };

/** Per element: the options set as properties, the mounted form, render bookkeeping. */
const STATE = new WeakMap();

function emit(el, type, detail) {
  el.dispatchEvent(new CustomEvent(type, { detail, bubbles: true, composed: true }));
}

function schedule(el) {
  const st = STATE.get(el);
  if (!st || st.scheduled) return;
  st.scheduled = true;
  queueMicrotask(() => { st.scheduled = false; render(el); });
}

function unmount(el) {
  const st = STATE.get(el);
  st?.handle?.unmount();
  if (st) st.handle = null;
}

async function render(el) {
  const st = STATE.get(el);
  const p = st.props;
  if (!el.isConnected || !(p.visitType || p.questionnaire)) return;
  const generation = ++st.generation;
  unmount(el);
  const options = { ...p };
  for (const [attr, key] of Object.entries(ATTRS)) {
    const v = el.getAttribute(attr);
    if (v !== null) options[key] = v;
  }
  let reported = false;
  options.onChange = (response) => emit(el, 'intake-change', response);
  // A listener that calls event.detail.waitUntil(promise) makes the form wait for that promise
  // before telling the patient the answers were sent (and offer a retry if it rejects).
  options.onSubmit = (bundle, response) => {
    let wait;
    emit(el, 'intake-submit', { bundle, response, waitUntil: (p) => { wait = Promise.resolve(p); } });
    return wait;
  };
  options.onUrgent = (advisories) => emit(el, 'intake-urgent', { advisories });
  options.onError = (e) => { reported = true; emit(el, 'intake-error', { message: String(e?.message ?? e) }); };
  try {
    const handle = await mount(st.container, options);
    if (generation !== st.generation) { handle.unmount(); return; }
    st.handle = handle;
  } catch (e) {
    if (!reported) emit(el, 'intake-error', { message: String(e?.message ?? e) });
  }
}

export class IntakeFormElement extends HTMLElement {
  static observedAttributes = Object.keys(ATTRS);

  constructor() {
    super();
    const root = this.attachShadow({ mode: 'open' });
    const link = document.createElement('link');
    link.rel = 'stylesheet';
    link.href = CSS_URL;
    const container = document.createElement('div');
    root.append(link, container);
    STATE.set(this, { props: {}, container, handle: null, scheduled: false, generation: 0 });
    for (const p of PROPS) {
      // A property set before the element was upgraded lives on the instance: take it over.
      if (Object.prototype.hasOwnProperty.call(this, p)) {
        const v = this[p];
        delete this[p];
        this[p] = v;
      }
    }
  }

  connectedCallback() { schedule(this); }
  disconnectedCallback() { unmount(this); }
  attributeChangedCallback() { schedule(this); }

  /** The QuestionnaireResponse so far, or null before the form is ready. */
  getResponse() { return STATE.get(this).handle?.getResponse() ?? null; }
  /** Submit; resolves to the write-back Bundle (also sent as intake-submit). */
  submit() {
    const h = STATE.get(this).handle;
    return h ? h.submit() : Promise.reject(new Error('intake-form: the form is not ready'));
  }
  /** Forget answers saved on this device. */
  clearSaved() { STATE.get(this).handle?.clearSaved(); }
  get sessionId() { return STATE.get(this).handle?.sessionId ?? null; }
}

for (const p of PROPS) {
  Object.defineProperty(IntakeFormElement.prototype, p, {
    get() { return STATE.get(this)?.props[p]; },
    set(v) {
      STATE.get(this).props[p] = v;
      schedule(this);
    },
    configurable: true,
  });
}

if (!customElements.get('intake-form')) customElements.define('intake-form', IntakeFormElement);
