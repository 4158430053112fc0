// Framework-free embedding of the intake form. One wasm module, loaded once per page; every
// form and session on the page is independent. Patient data leaves only through your callbacks.
import initWasm, { mount as wasmMount, createSession as wasmCreateSession } from './dist/intake_web.js';

let ready = null;

/** Load the wasm module once. `mount` and `createSession` call this for you. */
export function init(wasmUrl) {
  ready ??= initWasm(wasmUrl ? { module_or_path: wasmUrl } : undefined).then(() => undefined);
  return ready;
}

/** Mount an intake form into `element`. Rejects with a clear Error (and shows it in the element). */
export async function mount(element, options = {}) {
  if (!(element instanceof HTMLElement)) throw new TypeError('mount(element, options): element must be an HTMLElement');
  await init(options.wasmUrl);
  const form = wasmMount(element, options);
  let mounted = true;
  return {
    get sessionId() { return form.sessionId; },
    getResponse: () => form.getResponse(),
    submit: async () => form.submit(),
    clearSaved: () => form.clearSaved(),
    unmount() {
      if (!mounted) return;
      mounted = false;
      form.unmount();
      form.free();
    },
  };
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
    dispose: () => s.free(),
  };
}
