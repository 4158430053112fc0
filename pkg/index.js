// Framework-free embedding of the intake form. Patient data leaves only through your callbacks.
//
// The wasm module is fetched and compiled once per page. Every form and every session runs in
// its own instance of it (its own memory and state): an internal error in one form can never
// reach another form or session on the page. A form that hits one is started again on a fresh
// instance from its autosave, the patient is told in one calm sentence, and the host hears the
// technical message through onError; a second failure shows the patient how to continue.
//
// Four builds of the module ship in dist/: the same engine with or without each of two parts,
// the rules engine (rule scripts, for visit types that carry them) and FHIRPath (for forms that
// carry SDC expressions: scores, calculated values, expression branching). A form loads the
// smallest build that has what it carries, or a build the page has loaded already that has
// it; see `buildFor`. A build without a part refuses a form that needs it when it loads.
const BUILDS = {
  full: { rules: true, expressions: true, name: 'full', glue: () => import('./dist/intake_web.js'), file: './dist/intake_web_bg.wasm', option: 'wasmUrl' },
  sdc: { rules: false, expressions: true, name: 'SDC', glue: () => import('./dist/intake_sdc.js'), file: './dist/intake_sdc_bg.wasm', option: 'sdcWasmUrl' },
  rules: { rules: true, expressions: false, name: 'rules', glue: () => import('./dist/intake_rules.js'), file: './dist/intake_rules_bg.wasm', option: 'rulesWasmUrl' },
  basic: { rules: false, expressions: false, name: 'basic', glue: () => import('./dist/intake_basic.js'), file: './dist/intake_basic_bg.wasm', option: 'basicWasmUrl' },
};
/** The builds from the smallest: the first one loaded that runs a form is the one it uses. */
const BY_SIZE = ['basic', 'rules', 'sdc', 'full'];

// Per build: its glue module and compiled wasm (each fetched once per page), and one instance
// made ahead, so the next form does not wait for instantiation.
const loaded = Object.fromEntries(Object.keys(BUILDS).map((k) => [k, { ready: null, spare: null, warming: false }]));

/** Whether the options name rule scripts (as `rules`, a visit type's `rules`, or the manifest's list). */
function hasRules(options) {
  const some = (x) => x != null && typeof x === 'object' && Object.keys(x).length > 0;
  if (some(options.rules) || some(options.visitType?.rules)) return true;
  let manifest = options.manifest ?? options.visitType?.manifest;
  if (typeof manifest === 'string') {
    try { manifest = JSON.parse(manifest); } catch { return true; } // the full build reports it
  }
  return Array.isArray(manifest?.rules) ? manifest.rules.length > 0 : manifest?.rules != null;
}

// The verdict of `hasExpressions` per Questionnaire object: init(options) and mount(options)
// look at the same one, and a large form's JSON text is worth making once.
const EXPRESSIONS = new WeakMap();

/**
 * Whether the form may carry an SDC expression: its JSON holds a `valueExpression` (every
 * expression extension, at any depth, on an item, its text or the Questionnaire) or
 * `sourceQueries`. A superset of what a build without FHIRPath refuses; without a
 * Questionnaire to look at, yes (the build that runs any form reports what is wrong).
 */
function hasExpressions(options) {
  const q = options.questionnaire ?? options.visitType?.questionnaire;
  if (q == null) return true;
  const look = (text) => /"valueExpression"|sdc-questionnaire-sourceQueries/.test(text);
  if (typeof q !== 'object') return look(String(q));
  let verdict = EXPRESSIONS.get(q);
  if (verdict === undefined) {
    try { verdict = look(JSON.stringify(q)); } catch { verdict = true; } // a cycle: the engine reports it
    EXPRESSIONS.set(q, verdict);
  }
  return verdict;
}

/**
 * The options with a Questionnaire object given as its JSON text. Why: the shell looks for
 * expressions in the text (`hasExpressions`) and the module reads text; one JSON.stringify
 * serves both, where each made its own (MDS 3.0: 3-4 ms each). The text is what the module
 * would have made of the object, so nothing else changes; a value that cannot be stringified
 * is passed on as it is, for the module to report.
 */
function withText(options) {
  const q = options.questionnaire;
  if (q == null || typeof q !== 'object') return options;
  let text;
  try { text = JSON.stringify(q); } catch { return options; }
  return typeof text === 'string' ? { ...options, questionnaire: text } : options;
}

/** Whether build `kind` runs a form that needs `need` (a build name). */
const covers = (kind, need) => (BUILDS[kind].rules || !BUILDS[need].rules) && (BUILDS[kind].expressions || !BUILDS[need].expressions);

/**
 * The smallest build that runs a form: `options.build` when the host names one ('full',
 * 'sdc', 'rules' or 'basic'); else 'full' when the form carries rules and expressions, 'rules'
 * or 'sdc' when it carries only one of them, 'basic' when neither. When in doubt, the build
 * with the part in question: a form is never run without its rules or its expressions.
 */
export function buildFor(options = {}) {
  if (options.build != null) {
    if (!Object.hasOwn(BUILDS, options.build)) throw new TypeError(`options.build must be 'full', 'sdc', 'rules' or 'basic', not ${JSON.stringify(options.build)}`);
    return options.build;
  }
  const rules = hasRules(options);
  const expressions = hasExpressions(options);
  return rules ? (expressions ? 'full' : 'rules') : (expressions ? 'sdc' : 'basic');
}

/** The build to run a form on: the one it needs, or the smallest the page has loaded that runs it. */
function choose(options) {
  const need = buildFor(options);
  if (options.build != null || loaded[need].ready) return need;
  return BY_SIZE.find((kind) => loaded[kind].ready && covers(kind, need)) ?? need;
}

/** Fetch the glue and compile the wasm of build `kind` (once per page), and make a spare instance. */
async function load(kind, options) {
  const b = loaded[kind];
  b.ready ??= Promise.all([BUILDS[kind].glue(), compile(kind, options[BUILDS[kind].option])]).catch((e) => {
    b.ready = null; // a later call may try again (the network came back)
    throw e;
  });
  await b.ready;
  b.spare ??= fresh(kind).catch(() => null);
  await b.spare;
}

/**
 * Fetch and compile the build a form needs (once per page), and have an instance ready for the
 * next form or session. `mount` and `createSession` call this for you; call it early, with the
 * options you will mount with, to start sooner. `init()` and `init(url)` load the full build.
 */
export async function init(options) {
  const opts = options == null ? { build: 'full' }
    : (typeof options === 'string' || options instanceof URL) ? { build: 'full', wasmUrl: options }
    : options;
  const kind = choose(opts);
  await load(kind, opts);
  warmUp(kind, opts);
}

/**
 * Have the browser compile build `kind`'s code before a form waits on it. Wasm functions are
 * compiled the first time they run, and a first form's mount paid for it (PHQ-9: 35-40 ms
 * of a 40-45 ms mount on a fresh page, 10 ms once compiled). After `init`, while the host
 * fetches the patient's form and chart, a throwaway instance loads, mounts and answers a small
 * built-in form off the page, one step per idle period (five steps of 3-20 ms: a form that
 * arrives meanwhile waits for one step at most). Compiled code belongs to the module, so every
 * instance of it gains; the throwaway instance is then let go. Once per build per page.
 */
function warmUp(kind, options) {
  const b = loaded[kind];
  if (b.warming) return;
  b.warming = true;
  const idle = typeof requestIdleCallback === 'function' ? requestIdleCallback : (f) => setTimeout(f, 50);
  fresh(kind).then((wasm) => {
    const next = () => idle(() => {
      // A step that fails costs this throwaway instance only (the forms run on their own),
      // but it is a bug, and the host hears of it.
      let more = false;
      try { more = wasm.warmUp(); } catch (e) { tellHost(options, `intake: the warm-up failed (forms are unaffected, their first mount is slower): ${e.message}`); }
      if (more) next();
    });
    next();
  }, () => { /* the form's own load reports what went wrong */ });
}

async function fresh(kind) {
  const [{ createInstance }, module] = await loaded[kind].ready;
  const wasm = createInstance();
  await wasm.init({ module_or_path: module });
  return wasm;
}

async function compile(kind, wasmUrl) {
  const url = wasmUrl ?? new URL(BUILDS[kind].file, import.meta.url);
  const response = await fetch(url);
  if (!response.ok) throw new Error(`intake: could not fetch the wasm module: ${response.status} ${response.statusText} (${response.url})`);
  if (typeof WebAssembly.compileStreaming === 'function' && response.headers.get('Content-Type') === 'application/wasm') {
    return WebAssembly.compileStreaming(response);
  }
  // A server without the application/wasm type: compile from the bytes (slower; see pkg/README.md).
  return WebAssembly.compile(await response.arrayBuffer());
}

/**
 * A fresh, initialised instance of the build for `options`, never used before. If a smaller
 * build cannot be loaded (a host that serves only the full build's files), the form runs on
 * the full build and `tell` says why: it runs every form.
 */
async function instantiate(options, tell) {
  let kind = choose(options);
  try {
    await load(kind, options);
  } catch (e) {
    if (kind === 'full' || options.build != null) throw e;
    tell?.(`intake: the ${BUILDS[kind].name} build could not be loaded (${e.message}); this form runs on the full build`);
    kind = 'full';
    await load(kind, options);
  }
  // Taken synchronously: two forms mounted at once never get the same instance.
  const b = loaded[kind];
  const taken = b.spare;
  b.spare = null;
  return (taken && (await taken)) ?? fresh(kind);
}

// Each mounted form stays alive as long as its element does. The wasm handle frees the form
// when it is garbage collected: a host that mounts and drops the returned handle (the common
// `await mount(el, opts)`) would otherwise see the form vanish from the page at the next GC.
const FORMS = new WeakMap();

// Forms and sessions on the page, for the trap probe below.
const LIVE = new Set();

// The panic message of each failed instance (the panic handler runs before the trap).
const PANICS = new WeakMap();

/** Hear of a panic in `wasm`: remember its message, act once the panicking call has unwound. */
function onPanic(wasm, live) {
  wasm.setFatalHandler((message) => {
    PANICS.set(wasm, message);
    queueMicrotask(() => live.failed(wasm, message));
  });
}

// A trap that is not a Rust panic (the stack exhausted) skips the panic handler, and one in an
// event listener reaches only the page's error event. Ask every live instance whether it still
// works; the one that does not is handled like a panic.
if (typeof window !== 'undefined') {
  window.addEventListener('error', (e) => {
    if (!(e.error instanceof WebAssembly.RuntimeError)) return;
    for (const live of LIVE) {
      let ok = false;
      try { ok = live.wasm.health() === true; } catch { ok = false; }
      if (!ok) live.failed(live.wasm, PANICS.get(live.wasm) ?? `intake: the module trapped: ${e.error.message}`);
    }
  });
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

/** Tell the host (never the patient) through onError; a throwing onError is not our failure. */
function tellHost(options, message) {
  if (typeof options.onError !== 'function') return;
  try { options.onError(new Error(message)); } catch { /* the host's own bug */ }
}

/** `storage: false` keeps answers for this page only: kept here, so a restarted form finds them. */
function pageStore() {
  const m = new Map();
  return { getItem: (k) => m.get(k) ?? null, setItem: (k, v) => { m.set(k, String(v)); }, removeItem: (k) => { m.delete(k); } };
}

/** Mount an intake form into `element`. Rejects with a clear Error (and shows it in the element). */
export async function mount(element, options = {}) {
  if (!(element instanceof HTMLElement)) throw new TypeError('mount(element, options): element must be an HTMLElement');
  // The text goes to the first start only: the form keeps `opts` (for a restart) as long as it
  // lives, and a large form's text held there was half a megabyte for MDS 3.0.
  const given = withText(options);
  const first = await instantiate(given, (m) => tellHost(options, m));
  const opts = options.storage === false ? { ...options, storage: pageStore(), __pageOnly: true } : { ...options };
  const depth = { n: 0 };
  let mounted = true;
  let sessionId = null; // the same across a restart (it comes back from the autosave)
  const live = {
    wasm: first,
    form: null,
    failures: 0,
    // Called (once per instance) when this form's instance panicked or trapped.
    failed(wasm, message) {
      if (wasm !== live.wasm || !mounted) return; // an abandoned instance, or already handled
      live.wasm = null;
      live.form = null; // never called again, not even to free it: the GC takes the instance
      live.failures++;
      const again = live.failures > 1;
      tellHost(opts, `${message}. ${again
        ? 'The form failed again after a restart; the patient is asked to reload the page.'
        : 'The form was started again on a fresh instance from its autosave; the patient is told their answers are still there.'}`);
      queueMicrotask(() => restart(again));
    },
  };
  const start = (wasm, extra) => {
    onPanic(wasm, live);
    live.wasm = wasm;
    live.form = wasm.mount(element, guarded({ ...opts, ...extra }, depth));
    sessionId = live.form.sessionId;
  };
  const restart = async (stop) => {
    let wasm;
    try {
      wasm = await instantiate(opts, (m) => tellHost(opts, m));
    } catch (e) {
      tellHost(opts, `intake: the form could not be started again: ${e.message}`);
      return;
    }
    if (!mounted) return;
    if (stop) {
      live.wasm = wasm;
      wasm.showStopped(element, opts.locale);
      return;
    }
    try {
      start(wasm, { __restarted: true });
    } catch {
      // mount showed a calm message in the element and told onError.
    }
  };
  /** Call into the form; a trap there is this instance's failure, never the host's problem to decode. */
  const call = (f) => {
    if (!live.form) throw new Error('intake: this form is not running (it is restarting after an internal error, or stopped)');
    const wasm = live.wasm;
    try {
      return f(live.form);
    } catch (e) {
      if (e instanceof WebAssembly.RuntimeError) {
        live.failed(wasm, PANICS.get(wasm) ?? `intake: internal error: ${e.message}`);
        throw new Error('intake: internal error in this form; it is being started again from its autosave');
      }
      throw e;
    }
  };
  FORMS.get(element)?.unmount();
  try {
    start(first, given === options ? undefined : { questionnaire: given.questionnaire });
  } catch (e) {
    mounted = false; // bad options: the element shows a calm message, the host gets the Error
    throw e;
  }
  LIVE.add(live);
  const teardown = () => {
    LIVE.delete(live);
    if (FORMS.get(element) === handle) FORMS.delete(element);
    if (live.form) {
      live.form.unmount();
      live.form.free();
      live.form = null;
    } else {
      element.textContent = '';
    }
  };
  const handle = {
    get sessionId() { return sessionId; },
    getResponse: () => call((f) => f.getResponse()),
    submit: async () => {
      if (!mounted) throw new Error('intake: this form was unmounted');
      depth.n++;
      try { return call((f) => f.submit()); } finally { depth.n--; }
    },
    clearSaved: () => call((f) => f.clearSaved()),
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
  // Not kept by anything the session returns (see `mount`).
  const given = withText(options);
  const wasm = await instantiate(given, (m) => tellHost(options, m));
  const s = wasm.createSession(given);
  const live = {
    wasm,
    error: null,
    failed(w, message) {
      if (w !== live.wasm) return;
      live.wasm = null;
      live.error = message;
      LIVE.delete(live);
    },
  };
  onPanic(wasm, live);
  LIVE.add(live);
  // A session's data is the host's: after an internal error it is not restarted behind the
  // host's back; every later call says what happened and how to go on.
  const call = (f) => {
    if (!live.wasm) throw new Error(`intake: this session stopped after an internal error (${live.error}); create a new one, with \`saved\` from a snapshot() you kept`);
    try {
      return f();
    } catch (e) {
      if (e instanceof WebAssembly.RuntimeError) {
        live.failed(wasm, PANICS.get(wasm) ?? `intake: internal error: ${e.message}`);
        return call(f);
      }
      throw e;
    }
  };
  return {
    get sessionId() { return call(() => s.sessionId); },
    items: () => call(() => s.items()),
    answer: (key, value) => call(() => s.answer(key, value === undefined ? null : value)),
    addRow: (group, parentKey) => call(() => s.addRow(group, parentKey ?? undefined)),
    removeRow: (rowKey) => call(() => s.removeRow(rowKey)),
    problems: () => call(() => s.problems()),
    ruleErrors: () => call(() => s.ruleErrors()),
    response: () => call(() => s.response()),
    bundle: () => call(() => s.bundle()),
    snapshot: () => call(() => s.snapshot()),
    restoreProblems: () => call(() => s.restoreProblems()),
    dispose: () => {
      LIVE.delete(live);
      if (live.wasm) s.free();
      live.wasm = null;
      live.error ??= 'disposed';
    },
  };
}
