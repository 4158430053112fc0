// Types for @intake-engine/intake. FHIR resources are typed loosely (resourceType plus fields):
// the package reads and writes standard FHIR R4 JSON.

/** Any FHIR R4 resource as JSON. */
export interface FhirResource {
  resourceType: string;
  id?: string;
  [element: string]: unknown;
}

export interface Questionnaire extends FhirResource {
  resourceType: 'Questionnaire';
  item?: object[];
}

export interface QuestionnaireResponse extends FhirResource {
  resourceType: 'QuestionnaireResponse';
  status: 'in-progress' | 'completed' | 'amended' | 'entered-in-error' | 'stopped';
  questionnaire?: string;
  subject?: { reference?: string; display?: string };
  /** On the submitted (completed) response only: it names the submission, a digest of what is sent. */
  identifier?: { system?: string; value?: string };
  item?: object[];
}

export interface BundleEntry {
  fullUrl?: string;
  resource?: FhirResource;
  request?: { method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'; url: string; ifNoneExist?: string; ifMatch?: string };
}

/** The write-back transaction: POST it to the FHIR server as is. */
export interface Bundle extends FhirResource {
  resourceType: 'Bundle';
  type: 'transaction' | 'collection' | 'searchset' | string;
  /** Stable for the session: a retried submit carries the same identifier and the same conditional creates. */
  identifier?: { system?: string; value?: string };
  entry?: BundleEntry[];
}

/** A visit type as `intake catalog` writes it (visit-types/<id>.json). */
export interface VisitType {
  id: string;
  manifest: object;
  questionnaire: Questionnaire;
  /** Rule scripts by file name, as the manifest lists them. */
  rules?: Record<string, string>;
  /** The visit type's own ValueSets (`visit-types/<id>/valuesets/`), as `intake catalog` writes them. */
  valueSets?: ValueSet[];
}

/** A FHIR R4 ValueSet: `expansion.contains`, or `compose.include` concept lists. */
export interface ValueSet extends FhirResource {
  resourceType: 'ValueSet';
  url: string;
  version?: string;
}

/** What `expandValueSet` is asked: the value set, what the patient typed, how many, their language. */
export interface ExpandValueSetRequest {
  url: string;
  filter: string;
  count: number;
  language: string;
}

/** Why the patient comes, who answers, and values rules can read. */
export interface VisitContext {
  reasons?: string[];
  respondent?: 'patient' | { relationship?: string; name?: string; reference?: string };
  values?: Record<string, string>;
  /**
   * SDC launch contexts the form's expressions read, by name: `encounter`, `user`, or a name the
   * form declares. Each is a FHIR resource. `patient` is not given here: it is the chart's.
   */
  launchContext?: Record<string, FhirResource>;
}

/** Where autosave goes: the localStorage method names. Synchronous. */
export interface IntakeStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/** The builds of the module in `dist/`: with or without the rules engine and FHIRPath. */
export type IntakeBuild = 'full' | 'sdc' | 'rules' | 'basic';

export interface SessionOptions {
  /** A visit type (questionnaire, manifest, rules) as JSON... */
  visitType?: VisitType;
  /** ...or a bare FHIR Questionnaire (object or JSON text), with an optional manifest and rules. */
  questionnaire?: Questionnaire | string;
  manifest?: object | string;
  rules?: Record<string, string>;
  /**
   * The patient's current chart: a FHIR Bundle (searchset, collection, transaction) or a Patient.
   * Optional for a bare Questionnaire: without it nothing is prefilled and the response's subject
   * is `subject` (or none; then there is no write-back Bundle, see `BareMountOptions`).
   */
  chart?: FhirResource | string;
  /** The patient this form is for (`Patient/123`); a chart of anyone else is refused. */
  subject?: string;
  /** BCP-47; interface strings in English and Spanish, questionnaire text from its translations. */
  locale?: string;
  context?: VisitContext;
  /** ISO date-time to use as "now" (default: the browser clock). */
  now?: string;
  /** Keep the same id across retries so the Bundle is identical. */
  sessionId?: string;
  /**
   * Which build of the module runs this form. By default the smallest that has what the form
   * carries: 'full' for rule scripts and FHIRPath expressions, 'rules' for rule scripts only,
   * 'sdc' for expressions only, 'basic' for neither (rules: `rules`, a visit type's rules, or
   * rules listed in the manifest; expressions: a `valueExpression` or `sourceQueries` anywhere
   * in the Questionnaire), or a build the page has loaded already that has them. Forcing a
   * build without a part the form needs is refused when it loads: a form never runs without
   * its rules or its expressions. See `buildFor`.
   */
  build?: IntakeBuild;
  /** Where the full build's wasm (`dist/intake_web_bg.wasm`) is, if not beside the package's JS. */
  wasmUrl?: string | URL;
  /** Where the SDC build's wasm (`dist/intake_sdc_bg.wasm`) is, if not beside the package's JS. */
  sdcWasmUrl?: string | URL;
  /** Where the rules build's wasm (`dist/intake_rules_bg.wasm`) is, if not beside the package's JS. */
  rulesWasmUrl?: string | URL;
  /** Where the basic build's wasm (`dist/intake_basic_bg.wasm`) is, if not beside the package's JS. */
  basicWasmUrl?: string | URL;
  /**
   * ValueSets for `answerValueSet`s the form does not contain (by canonical `url`, `url|version`
   * pins one). Looked up before the visit type's own. A choice question whose value set is found
   * nowhere takes free text, sent as `valueString` and flagged for coding; `onError` says which.
   */
  valueSets?: ValueSet[];
}

export interface MountOptions extends SessionOptions {
  /** The patient's current chart (see `BareMountOptions` for a form without one). */
  chart: FhirResource | string;
  /** Default: localStorage. `false`: keep nothing beyond this page. */
  storage?: IntakeStorage | false;
  /** Default: `intake:<visit type id>:<patient reference>`. */
  storageKey?: string;
  /** Every change: the response so far, and the urgent advisories in force (as the patient sees them). */
  onChange?: (response: QuestionnaireResponse, info: { urgent: string[] }) => void;
  /**
   * The write-back Bundle. Return a Promise to make the form wait for your server: the patient
   * sees "Sending…", then "sent" only when it resolves; if it rejects (or this throws), the
   * patient is told sending failed and can retry, which sends the very same Bundle. Returning
   * nothing confirms at once.
   */
  onSubmit?: (bundle: Bundle, response: QuestionnaireResponse) => void | Promise<unknown>;
  /** Keep the saved answers after a confirmed send (default: they are cleared). */
  keepAfterSubmit?: boolean;
  onError?: (error: Error) => void;
  /**
   * Urgent advisories changed (a rule decided the patient needs care now, e.g. a very high
   * blood pressure with chest pain). The patient already sees them in an alert region; page
   * your staff here. Called with the current list (empty when none apply any more).
   */
  onUrgent?: (advisories: UrgentAdvisory[]) => void;
  /**
   * Your terminology service, for choice questions whose value set could not be listed (large
   * code systems: allergens, medications, conditions). Called as the patient types (after a
   * pause, two letters or more) with what they typed; resolve to a ValueSet with an
   * `expansion`. The form never makes a network request itself. While it runs the patient sees
   * "Searching…"; if it rejects, they keep what they typed (sent as free text for coding) and
   * `onError` gets the reason.
   */
  expandValueSet?: (request: ExpandValueSetRequest) => Promise<ValueSet> | ValueSet;
}

export interface UrgentAdvisory {
  /** What the patient is shown: the reason and what to do, in the form's language. */
  text: string;
  /** The reason alone. */
  reason: string;
  /** The rule file that raised it. */
  rule: string;
}

/**
 * A bare Questionnaire mounted without a chart: nothing is prefilled. With a `subject` the
 * write-back holds the response (and review Tasks); without one there is no write-back Bundle:
 * `onSubmit` receives `null` and the QuestionnaireResponse, and `onError` says so once at mount.
 */
export interface BareMountOptions extends Omit<MountOptions, 'chart' | 'onSubmit'> {
  chart?: undefined;
  onSubmit?: (bundle: Bundle | null, response: QuestionnaireResponse) => void | Promise<unknown>;
}

export interface IntakeHandle<B = Bundle> {
  readonly sessionId: string;
  getResponse(): QuestionnaireResponse;
  /** Resolves to the write-back Bundle; rejects naming the items that need an answer. */
  submit(): Promise<B>;
  /** Forget the answers saved on this device (e.g. once your write-back succeeded). */
  clearSaved(): void;
  unmount(): void;
}

/**
 * Fetch and compile the build a form needs (once per page) and make an instance ready for the
 * next form or session (each runs in its own instance). Called by mount and createSession; call
 * it early, with the options you will mount with, to start sooner. `init()` and `init(url)`
 * load the full build. After it resolves, the browser compiles the form's code in idle time
 * (a throwaway instance warms up off the page, one short step per idle period), so the
 * form you mount next does not wait for that.
 */
export function init(options?: SessionOptions | string | URL): Promise<void>;

/**
 * The smallest build that runs a form with these options: 'full' (it carries rules and
 * expressions), 'rules', 'sdc' (expressions only) or 'basic' (neither). `mount`/`createSession`
 * use a build the page has loaded already instead, when it runs the form.
 */
export function buildFor(options?: SessionOptions): IntakeBuild;

/** Mount the form into an element. */
export function mount(element: HTMLElement, options: MountOptions): Promise<IntakeHandle>;
/** Mount a bare Questionnaire with no chart. */
export function mount(element: HTMLElement, options: BareMountOptions): Promise<IntakeHandle<Bundle | null>>;

/** An answer as the engine takes and gives it: JSON values, codings, quantities, references. */
export type AnswerValue =
  | boolean
  | number
  | string
  | { system?: string; code?: string; display?: string }
  | { value: number; unit?: string; code?: string; system?: string }
  | { reference: string; display?: string };

export interface ItemState {
  /** Unique key: the linkId path from the top, with row positions (`allergies/allergy[1]/allergy.status`). */
  key: string;
  linkId: string;
  type: string;
  text: string | null;
  depth: number;
  parent: string | null;
  /** Shown to the patient (enabled and not SDC-hidden). */
  shown: boolean;
  enabled: boolean;
  required: boolean;
  /** Why it is asked, in the session's language. */
  reason: string | null;
  errors: { code: string; message: string }[];
  answers: AnswerValue[];
  /** For rows prefilled from the chart: the resource they show. */
  onFile: { reference: string; summary: string } | null;
  /** The answer is what the chart holds. */
  prefilled: boolean;
  repeats: boolean;
  options: { value: AnswerValue; label: string }[];
}

export interface EngineSession {
  readonly sessionId: string;
  items(): ItemState[];
  /** Answer by linkId (or by key in repeating rows); null clears. Returns the keys that changed. */
  answer(key: string, value: AnswerValue | AnswerValue[] | null): string[];
  addRow(groupLinkId: string, parentKey?: string): string;
  removeRow(rowKey: string): void;
  problems(): { key: string; linkId: string; errors: string[] }[];
  ruleErrors(): string[];
  response(): QuestionnaireResponse;
  /** Throws naming the items that block submit. */
  bundle(): Bundle;
  snapshot(): object;
  /** Entries of `saved` that could not be restored (everything else was): developer text. */
  restoreProblems(): string[];
  dispose(): void;
}

/** The engine without the form, for portals with their own interface. */
export function createSession(
  options: SessionOptions & {
    /**
     * A `snapshot()` to resume: it must name this chart's patient and this visit type, and its
     * session id is kept (a different `sessionId` is refused), so identifiers stay stable.
     * Entries that no longer fit the form are skipped and listed by `restoreProblems()`.
     */
    saved?: object;
    /** Told about saved entries that could not be restored. */
    onError?: (error: Error) => void;
  },
): Promise<EngineSession>;
