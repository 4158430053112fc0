// Framework-free embedding of the intake form. One wasm module, loaded once per page; every
// form and session on the page is independent. Patient data leaves only through your callbacks.
import initWasm, { mount as wasmMount, createSession as wasmCreateSession } from './dist/intake_web.js';

let ready = null;

// Each mounted form stays alive as long as its element does. The wasm handle frees the form
// when it is garbage collected: a host that mounts and drops the returned handle (the common
// `await mount(el, opts)`) would otherwise see the form vanish from the page at the next GC.
const FORMS = new WeakMap();

/** Load the wasm module once. `mount` and `createSession` call this for you. */
export function init(wasmUrl) {
  ready ??= initWasm(wasmUrl ? { module_or_path: wasmUrl } : undefined).then(() => undefined);
  return ready;
}

/**
 * Wrap the host's callbacks so the shell knows when it is inside one: lifecycle calls made
 * from a callback (unmount inside onSubmit, removing <intake-form> in its submit listener)
 * must not tear the form down while the form is still running the code that called it.
 */
function guarded(options, depth) {
  const out = { ...options };
  for (const name of ['onChange', 'onSubmit', 'onError', 'onUrgent']) {
    const f = options[name];
    if (typeof f !== 'function') continue;
    out[name] = (...args) => {
      depth.n++;
      try { return f(...args); } finally { depth.n--; }
    };
  }
  return out;
}

/** Mount an intake form into `element`. Rejects with a clear Error (and shows it in the element). */
export async function mount(element, options = {}) {
  if (!(element instanceof HTMLElement)) throw new TypeError('mount(element, options): element must be an HTMLElement');
  await init(options.wasmUrl);
  const depth = { n: 0 };
  const form = wasmMount(element, guarded(options, depth));
  FORMS.get(element)?.unmount();
  let mounted = true;
  const teardown = () => {
    if (FORMS.get(element) === handle) FORMS.delete(element);
    form.unmount();
    form.free();
  };
  const handle = {
    get sessionId() { return form.sessionId; },
    getResponse: () => form.getResponse(),
    submit: async () => {
      if (!mounted) throw new Error('intake: this form was unmounted');
      depth.n++;
      try { return form.submit(); } finally { depth.n--; }
    },
    clearSaved: () => form.clearSaved(),
    unmount() {
      if (!mounted) return;
      mounted = false;
      // Inside one of our callbacks the form is still on the call stack: finish after it returns.
      if (depth.n > 0) queueMicrotask(teardown);
      else teardown();
    },
  };
  FORMS.set(element, handle);
  return handle;
}

/** The engine without the form: answer, read item states, get the response and the Bundle. */
export async function createSession(options = {}) {
  await init(options.wasmUrl);
  const s = wasmCreateSession(options);
  return {
    get sessionId() { return s.sessionId; },
    items: () => s.items(),
    answer: (key, value) => s.answer(key, value === undefined ? null : value),
    addRow: (group, parentKey) => s.addRow(group, parentKey ?? undefined),
    removeRow: (rowKey) => s.removeRow(rowKey),
    problems: () => s.problems(),
    ruleErrors: () => s.ruleErrors(),
    response: () => s.response(),
    bundle: () => s.bundle(),
    snapshot: () => s.snapshot(),
    restoreProblems: () => s.restoreProblems(),
    dispose: () => s.free(),
  };
}
